"""``rabbit_stream_fanout``: one stream queue per fanout topic, resumed at the right offset.

Each test runs on both AMQP 0-9-1 drivers. A reconnect is a broker-side
``rabbitmqctl close_connection`` of the server's own connection (the system
node is never restarted).
"""

from __future__ import annotations

import time

import pytest

from messaging.exceptions import InvalidTransportURL
from messaging.target import Target

pytestmark = pytest.mark.rabbit

STREAM = ("rabbit_stream_fanout=true&rabbit_qos_prefetch_count=10"
          "&rabbit_transient_quorum_queue=true")
QUICK = "kombu_reconnect_delay=0.2&rabbit_retry_interval=0.2"


def _slow(delay: float):
    """A handler that takes ``delay`` seconds: deliveries pile up unhandled in the prefetch."""
    return lambda msg: time.sleep(delay)


def _handled(server, i: int, timeout: float = 60.0) -> list[int]:
    """Wait until fanout cast ``i`` was handled; the ``args['i']`` of all handled, in order."""
    got = server.wait_until(lambda msgs: any(m.message["args"]["i"] == i for m in msgs),
                            timeout, f"message {i}")
    return [m.message["args"]["i"] for m in got]


def _fanout(driver, topic: str, i: int) -> None:
    driver.cast(Target(topic=topic, fanout=True), {}, {"method": "m", "args": {"i": i}})


def test_one_stream_queue_serves_every_server_with_every_fanout_cast(
        make_driver, serve, rmq, topic):
    driver = make_driver(STREAM)
    servers = [serve(driver.listen(Target(topic=topic, server=f"s{i}"))) for i in range(3)]
    for i in range(30):
        _fanout(driver, topic, i)
    for server in servers:
        assert _handled(server, 29) == list(range(30))

    queues = rmq.queues()
    fanout_queues = [name for name in queues if name.startswith(f"{topic}_fanout")]
    assert fanout_queues == [f"{topic}_fanout"]  # oslo's name: one queue, not one per server
    stream = queues[f"{topic}_fanout"]
    assert stream["arguments"] == {"x-queue-type": "stream", "x-max-age": "1800s"}
    assert stream["durable"] is True and stream["auto_delete"] is False
    assert stream["consumers"] == 3
    assert (f"{topic}_fanout", f"{topic}_fanout", topic) in rmq.bindings()
    assert rmq.exchanges()[f"{topic}_fanout"]["durable"] is True


def test_a_new_server_starts_at_the_next_cast_not_at_old_ones(make_driver, serve, topic):
    driver = make_driver(STREAM)
    first = serve(driver.listen(Target(topic=topic, server="s1")))
    for i in range(10):
        _fanout(driver, topic, i)
    _handled(first, 9)
    late = serve(driver.listen(Target(topic=topic, server="s2")))
    _fanout(driver, topic, 10)
    assert _handled(late, 10) == [10]
    assert _handled(first, 10) == list(range(11))


def _count(seen: list[int], total: int) -> tuple[int, int, bool]:
    """(replayed, lost, in order) of the handled sequence ``seen`` against 0..total-1."""
    replayed = len(seen) - len(set(seen))
    lost = len(set(range(total)) - set(seen))
    return replayed, lost, seen == sorted(seen)


def test_a_reconnected_server_resumes_after_what_it_handled(make_driver, serve, rmq, topic):
    total = 150
    driver = make_driver(f"{STREAM}&{QUICK}")
    listener = driver.listen(Target(topic=topic, server="s1"))
    # A slow handler, so that deliveries wait unhandled in the prefetch when the
    # connection goes: those must come again, the handled ones must not.
    server = serve(listener, _slow(0.01))
    cursor = listener.streams[f"{topic}_fanout"]
    for i in range(75):
        _fanout(driver, topic, i)
    _handled(server, 40)
    rmq.close_connection(listener.connection.name)
    for i in range(75, total - 25):  # partly while the server is away
        _fanout(driver, topic, i)
    rmq.wait_until(lambda: listener.connection.connects == 2, timeout=30,
                   what="the server reconnects")
    for i in range(total - 25, total):
        _fanout(driver, topic, i)
    _fanout(driver, topic, total)  # a sentinel: any replay would come before it
    seen = [i for i in _handled(server, total) if i < total]

    replayed, lost, in_order = _count(seen, total)
    print(f"stream resume after a connection kill: {len(seen)}/{total} handled, "
          f"{replayed} replayed, {lost} lost, in order: {in_order}, "
          f"consumes {cursor.consumes}, skipped {cursor.skipped}")
    assert (replayed, lost, in_order) == (0, 0, True)
    assert cursor.consumes == 2


def test_stream_deliveries_are_acked_even_when_malformed(make_driver, serve, topic):
    """A reject on a stream is channel error 540 on 3.10: a malformed body must be acked."""
    driver = make_driver(STREAM)
    listener = driver.listen(Target(topic=topic, server="s1"))
    server = serve(listener)
    generation = listener.connection.generation
    driver.testing.publish_raw(Target(topic=topic, fanout=True), b"not json")
    _fanout(driver, topic, 0)
    assert _handled(server, 0) == [0]
    assert listener.connection.generation == generation  # the channel was never closed
    assert listener.connection.connects == 1


@pytest.mark.parametrize("query, needs", [
    ("rabbit_stream_fanout=true&rabbit_transient_quorum_queue=true",
     "rabbit_qos_prefetch_count > 0"),
    ("rabbit_stream_fanout=true&rabbit_qos_prefetch_count=10",
     "rabbit_transient_quorum_queue = true"),
])
def test_a_configuration_streams_cannot_work_with_is_refused(make_driver, query, needs):
    with pytest.raises(InvalidTransportURL, match=needs.replace("+", r"\+")):
        make_driver(query)
