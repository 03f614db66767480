"""Acknowledgements sent while a reconnected listener is still consuming its queues count.

After a reconnect the connection consumes its queues one by one; deliveries
on the first ones arrive meanwhile and are handled and acknowledged. Those
acks are bound to their channel, not to a retry budget: they used to meet
the connection's "down" state, count as a failed attempt and, with no retry
allowed, be dropped, leaving the messages unacknowledged on a live channel
for good. Here a listener of five queues loses its connection five times
while it works through 5,000 notifications (a private node, so its
connections can be closed at will).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from messaging.target import Target
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit

PRIORITIES = ("audit", "debug", "info", "warn", "error")
TOTAL = 5000
FAULTS = 5


def _queue_counts(node, vhost):
    out = node.ctl("list_queues", "-p", vhost, "name", "messages_ready",
                   "messages_unacknowledged", "--formatter", "json")
    rows = json.loads(out[out.index("["):]) if "[" in out else []
    return (sum(r["messages_ready"] for r in rows),
            sum(r["messages_unacknowledged"] for r in rows))


def test_no_ack_is_lost_while_a_listener_consumes_again(make_driver, private_node, vhost,
                                                        topic, scheme):
    url = f"{scheme}://{private_node.url_host}/{vhost}"
    driver = make_driver("kombu_reconnect_delay=0.1&rabbit_retry_interval=0.2", url_=url)
    futures = [driver.submit_notify(Target(topic=f"{topic}.{PRIORITIES[n % 5]}"), {},
                                    {"priority": PRIORITIES[n % 5].upper(), "payload": {"n": n}})
               for n in range(TOTAL)]
    for future in futures:
        future.result(60)
    listener = driver.listen_for_notifications([(Target(topic=topic), p) for p in PRIORITIES])
    handled: set[int] = set()
    stop = threading.Event()

    def consume():
        while not stop.is_set():
            for message in listener.poll(timeout=0.2, max_messages=10):
                time.sleep(0.002)  # the workload, so that consuming spans the faults
                handled.add(message.message["payload"]["n"])
                message.acknowledge()

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    try:
        conn = listener.connection
        for fault in range(1, FAULTS + 1):
            floor = len(handled)
            wait_for(lambda f=floor: len(handled) > f + 100 or len(handled) == TOTAL, 30,
                     message="the listener to make progress")
            private_node.ctl("close_all_connections", "--vhost", vhost, "--limit", "100",
                             f"test fault {fault}")
            wait_for(lambda f=fault: conn.connects == f + 1, 30,
                     message=f"the listener to reconnect after fault {fault}")
        wait_for(lambda: len(handled) == TOTAL, 60,
                 message=f"every notification to be handled ({len(handled)} so far)")
        deadline = time.monotonic() + 20
        counts = _queue_counts(private_node, vhost)
        while counts != (0, 0) and time.monotonic() < deadline:
            counts = _queue_counts(private_node, vhost)
        print(f"\nafter {FAULTS} faults: {len(handled)} of {TOTAL} handled; ready, "
              f"unacknowledged: {counts}")
        assert counts == (0, 0), f"messages left (ready, unacknowledged): {counts}"
    finally:
        stop.set()
        worker.join(5)
        listener.cleanup()
