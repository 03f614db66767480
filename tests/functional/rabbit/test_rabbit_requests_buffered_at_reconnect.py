"""Requests delivered to a server but not yet run when its connection drops run exactly once.

Without a prefetch limit the broker hands a server every request at once;
a slow endpoint on a small pool leaves most of them waiting in the
listener. When the connection drops, the broker requeues them and delivers
them again; they must run then (ids are remembered when a request is
acknowledged, never on arrival: see :mod:`messaging.settlement`), and the
ones already acknowledged must not run twice.
"""

from __future__ import annotations

import collections
import threading
import time

import pytest

import messaging
from messaging.target import Target

pytestmark = pytest.mark.rabbit

CASTS = 400


class Slow:
    def __init__(self):
        self.runs = collections.Counter()
        self.lock = threading.Lock()
        self.gate = threading.Event()  # opened once every cast is sent: a full backlog

    def work(self, ctxt, i):
        self.gate.wait(60)
        time.sleep(0.01)  # the workload: keeps requests waiting in the listener
        with self.lock:
            self.runs[i] += 1


def test_every_confirmed_cast_runs_exactly_once_across_a_server_reconnect(rmq, url, topic):
    quick = "kombu_reconnect_delay=0.1&rabbit_retry_interval=0.2&rabbit_qos_prefetch_count=0"
    transport = messaging.get_rpc_transport(None, f"{url}?{quick}")
    endpoint = Slow()
    server = messaging.get_rpc_server(transport, Target(topic=topic, server="s1"), [endpoint],
                                      executor="threading")
    server.start(override_pool_size=2)
    try:
        client = messaging.get_rpc_client(transport, Target(topic=topic))
        for i in range(CASTS):
            client.cast({}, "work", i=i)  # each confirmed by the broker
        endpoint.gate.set()
        conn = server._listener.connection
        rmq.wait_until(lambda: 20 <= sum(endpoint.runs.values()), what="the first casts run")
        buffered = CASTS - sum(endpoint.runs.values())
        assert buffered > 100, "too few requests were waiting for the test to mean anything"
        rmq.close_connection(conn.name)
        rmq.wait_until(lambda: conn.connects == 2, what="the server to reconnect")
        rmq.wait_until(lambda: rmq.queues()[topic]["messages"] == 0, timeout=60,
                       what="the queue to drain (nothing ready or unacknowledged)")
        rmq.wait_until(lambda: len(endpoint.runs) == CASTS, timeout=30,
                       what=f"all {CASTS} casts to run (ran {len(endpoint.runs)})")
        with endpoint.lock:
            twice = sorted(i for i, n in endpoint.runs.items() if n > 1)
        assert not twice, f"ran more than once: {twice}"
        print(f"\n{buffered} of {CASTS} casts were waiting in the server at the reconnect; "
              f"{len(endpoint.runs)} ran, each once")
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
