"""StreamCursor: where a stream consumer starts and resumes (no broker: plain bookkeeping)."""

from __future__ import annotations

from messaging_amqp091.streams import OFFSET_HEADER, StreamCursor


def _consume(cursor: StreamCursor) -> object:
    return dict(cursor)[OFFSET_HEADER]  # what a connection sends as consumer arguments


def test_a_new_consumer_starts_at_next():
    assert _consume(StreamCursor("t_fanout")) == "next"


def test_a_reconnect_resumes_after_the_last_handled_offset():
    cursor = StreamCursor("t_fanout")
    _consume(cursor)
    for offset in range(10, 15):
        assert cursor.delivered(offset)
        cursor.handled(offset)
    assert _consume(cursor) == 15


def test_unhandled_deliveries_come_again_and_handled_ones_ahead_are_skipped():
    cursor = StreamCursor("t_fanout")
    _consume(cursor)
    for offset in range(5):
        cursor.delivered(offset)
    cursor.handled(0)
    cursor.handled(2)  # out of order: 1 still pending
    assert _consume(cursor) == 1
    assert cursor.delivered(1)
    assert not cursor.delivered(2)  # handled before the reconnect: skipped, not replayed
    assert cursor.delivered(3)
    assert cursor.skipped == 1


def test_a_delivery_handled_after_the_reconnect_is_not_handed_over_again():
    cursor = StreamCursor("t_fanout")
    _consume(cursor)
    cursor.delivered(7)
    assert _consume(cursor) == 7  # the connection went while 7 was being handled
    cursor.handled(7)  # ...and it was handled after all
    assert not cursor.delivered(7)
    assert cursor.delivered(8)
