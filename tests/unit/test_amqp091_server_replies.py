"""A server's replies on the shared AMQP 0-9-1 layer: where they go and how they are retried.

A reply goes through the default exchange to the caller's ``_reply_q``,
mandatory, so a missing reply queue sends it back; it is then retried
every 0.25 s for ``kombu_missing_consumer_retry_timeout`` (oslo's rule),
after which the queue counts as gone and later replies to it are dropped.
A retry still waiting when the server closes fails and is logged. A
call-monitor heartbeat is sent once, never retried.
"""

from __future__ import annotations

import logging

import pytest
from messaging_amqp091.codec import decode_body

from messaging.driver import Reply
from messaging.envelope import build_request, encode, parse_reply, unwrap, wrap
from messaging.target import Target


@pytest.fixture
def serve(fake_amqp):
    """``serve(query='', reply_q=...)``: one polled request; ``(message, server connection)``."""
    def start(query: str = "", reply_q: str = "reply_abc"):
        driver, factory = fake_amqp(query)
        listener = driver.listen(Target(topic="t", server="s"))
        conn = factory.only("rpc-server")

        def receive():
            inner = build_request({"method": "m", "args": {}}, {}, msg_id="id-1",
                                  reply_q=reply_q)
            conn.deliver("t", encode(wrap(inner)))
            (msg,) = listener.poll(timeout=1)
            return msg

        return receive, conn, listener
    return start


def _frame(publish):
    return parse_reply(unwrap(decode_body(publish.body, publish.headers)))


def test_a_reply_goes_to_the_reply_queue_through_the_default_exchange_mandatory(serve):
    receive, conn, _ = serve()
    receive().reply(Reply(result={"sum": 3}))
    (publish,) = conn.published
    assert (publish.exchange, publish.routing_key, publish.mandatory) == (None, "reply_abc",
                                                                          True)
    frame = _frame(publish)
    assert (frame.msg_id, frame.result, frame.failure, frame.ending) == ("id-1", {"sum": 3},
                                                                         None, True)


def test_a_reply_is_compressed_as_the_server_is_configured(serve):
    receive, conn, _ = serve("kombu_compression=gzip")
    receive().reply(Reply(result="r"))
    (publish,) = conn.published
    assert publish.headers == {"compression": "application/x-gzip"}
    assert _frame(publish).result == "r"


def test_a_reply_whose_queue_is_missing_is_retried_every_quarter_second(serve):
    receive, conn, _ = serve()
    conn.unroutable.add("reply_abc")
    receive().reply(Reply(result=1))
    for attempt in range(1, 4):
        assert len(conn.published) == attempt
        assert [delay for delay, _ in conn.delayed] == [0.25]
        if attempt == 3:
            conn.unroutable.clear()  # the caller's queue is back
        conn.run_delayed()
    assert len(conn.published) == 4 and conn.delayed == []
    assert all(_frame(p).result == 1 for p in conn.published)


def test_past_the_retry_timeout_the_reply_is_abandoned_and_its_queue_counts_as_gone(serve,
                                                                                   caplog):
    receive, conn, _ = serve("kombu_missing_consumer_retry_timeout=0")
    conn.unroutable.add("reply_abc")
    receive().reply(Reply(result=1))
    assert conn.delayed == []
    assert any("Abandoning" in r.getMessage() and "id-1" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)
    receive().reply(Reply(result=2))  # another request from that caller
    assert len(conn.published) == 1  # not even tried


def test_a_reply_retry_waiting_when_the_server_closes_fails_and_is_logged(serve, caplog):
    receive, conn, listener = serve()
    conn.unroutable.add("reply_abc")
    receive().reply(Reply(result=1))
    assert len(conn.delayed) == 1
    listener.cleanup()
    assert conn.delayed == []
    assert any("id-1" in r.getMessage() and "could not be sent" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)


def test_a_call_monitor_heartbeat_is_sent_once_and_never_retried(serve):
    receive, conn, _ = serve()
    conn.unroutable.add("reply_abc")
    receive().heartbeat()
    (publish,) = conn.published
    assert publish.retry == 0 and publish.mandatory
    assert _frame(publish).ending is False
    assert conn.delayed == []
