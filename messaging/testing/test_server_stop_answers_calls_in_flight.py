"""Kit: a server stopped with calls in flight still answers them before ``wait`` returns."""

from __future__ import annotations

import threading

import messaging
from messaging.testing.helpers import wait_for

WAIT = 20.0
CALLS = 5


class Held:
    def __init__(self) -> None:
        self.gate = threading.Event()
        self.arrived: list[int] = []
        self.lock = threading.Lock()

    def held(self, ctxt, n):
        with self.lock:
            self.arrived.append(n)
        self.gate.wait(WAIT)
        return n


def test_calls_taken_before_stop_get_their_replies(api, transport, topic):
    endpoint = Held()
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [endpoint])
    client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=WAIT)
    results: list[object] = []

    def call(n: int) -> None:
        try:
            results.append(client.call({}, "held", n=n))
        except Exception as exc:  # recorded for the assertion below
            results.append(exc)

    server.start()
    callers = [threading.Thread(target=call, args=(n,), daemon=True) for n in range(CALLS)]
    for caller in callers:
        caller.start()
    stopper = threading.Thread(target=server.stop, daemon=True)
    try:
        wait_for(lambda: len(endpoint.arrived) == CALLS, timeout=WAIT, message="every call")
        stopper.start()
        wait_for(lambda: not server.running, timeout=WAIT, message="the server to stop")
    finally:
        endpoint.gate.set()
    stopper.join(WAIT)
    server.wait(timeout=WAIT)
    for caller in callers:
        caller.join(WAIT)
    assert sorted(results, key=repr) == list(range(CALLS)), results
