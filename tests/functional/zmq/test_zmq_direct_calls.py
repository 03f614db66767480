"""Synchronous calls on the caller's own socket: many threads, cleanup, call monitoring.

A synchronous call to a server the driver already reached goes out on the
calling thread's own DEALER and waits there (``messaging_zmq.direct``);
these tests make sure that path keeps every rule the I/O-thread path keeps.
"""

from __future__ import annotations

import gc
import threading
import time

import pytest

import messaging
from messaging.testing.helpers import running_server

WAIT = 20.0


class Endpoint:
    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def echo(self, ctxt, value):
        return value

    def block(self, ctxt):
        self.arrived.set()
        self.release.wait(WAIT)
        return "released"

    def sleep_for(self, ctxt, seconds):
        time.sleep(seconds)
        return seconds


@pytest.fixture
def served(url, topic, transports):
    endpoint = Endpoint()
    server = messaging.get_rpc_server(transports(url), messaging.Target(topic=topic,
                                                                        server="s1"),
                                      [endpoint], executor="threading")
    with running_server(server):
        yield endpoint


def _warm(transport, topic):
    """One call, so that the I/O thread has reached the server: later calls go direct."""
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=WAIT)
    assert client.call({}, "echo", value="warm") == "warm"
    return client


def test_threads_calling_at_once_each_get_their_own_replies(url, topic, served, transports):
    transport = transports(url)
    client = _warm(transport, topic)
    direct = transport.driver._direct
    before = len(direct._all)
    results: dict[int, list[int]] = {}
    with_sockets: list[int] = []

    def work(n: int) -> None:
        results[n] = [client.call({}, "echo", value=n * 1000 + i) for i in range(25)]
        with_sockets.append(len(direct._all))  # threads holding direct sockets now

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert results == {n: [n * 1000 + i for i in range(25)] for n in range(8)}
    assert max(with_sockets) > before, "no thread called on its own socket"
    gc.collect()
    assert len(direct._all) == before, "the sockets of finished threads were kept"


def test_cleanup_ends_a_direct_call_at_once(url, topic, served, transports):
    transport = transports(url)
    client = _warm(transport, topic)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(client.prepare(timeout=60).call({}, "block"))
        except BaseException as exc:  # recorded for the assertions below
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    try:
        assert served.arrived.wait(WAIT)
        began = time.monotonic()
        transport.cleanup()
        thread.join(5)
        assert not thread.is_alive() and time.monotonic() - began < 5
    finally:
        served.release.set()
    assert len(outcome) == 1 and isinstance(outcome[0], messaging.MessagingTimeout), outcome
    with pytest.raises(messaging.MessageDeliveryFailure):
        client.call({}, "echo", value="after cleanup")


def test_direct_call_times_out_and_monitoring_keeps_a_long_one_alive(url, topic, served,
                                                                     transports):
    client = _warm(transports(url), topic)
    began = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client.prepare(timeout=0.5).call({}, "sleep_for", seconds=2)
    assert time.monotonic() - began < 0.5 + 2
    monitored = client.prepare(timeout=WAIT, call_monitor_timeout=1)
    assert monitored.call({}, "sleep_for", seconds=2.5) == 2.5
    with pytest.raises(messaging.MessagingTimeout):
        client.prepare(timeout=1.5, call_monitor_timeout=1).call({}, "sleep_for", seconds=4)
