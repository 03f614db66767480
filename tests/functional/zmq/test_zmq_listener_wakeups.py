"""A listener's poll never sleeps while a request waits in its socket.

The listener waits on its sockets' file descriptors, which ZeroMQ signals
only on changes, and worker threads send replies on the same socket. This
drives that interplay at the driver interface: a loop taking one message
per poll and handing it to a pool of repliers, bursts of calls, and idle
gaps in which the poll returns empty (timeout) before the next burst.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import messaging
from messaging.driver import Reply
from messaging.testing.helpers import wait_for

WAIT = 20.0


def test_bursts_with_idle_gaps_are_all_answered(url, topic, transports):
    listener = transports(url).listen(messaging.Target(topic=topic, server="s1"))
    client = transports(url)
    pool = ThreadPoolExecutor(8)
    stop = threading.Event()
    empty_polls = [0]

    def reply(message):
        message.acknowledge()
        message.reply(Reply(result=message.message["args"]["value"]))

    def serve():
        while not stop.is_set():
            taken = listener.poll(timeout=0.1, max_messages=1)
            if not taken:
                empty_polls[0] += 1
            for message in taken:
                pool.submit(reply, message)

    loop = threading.Thread(target=serve, daemon=True)
    loop.start()
    try:
        target = messaging.Target(topic=topic)
        for burst in range(4):
            futures = [client.submit_call(target, {}, {"method": "echo",
                                                       "args": {"value": i}}, timeout=WAIT)
                       for i in range(200)]
            assert [f.result(WAIT).result for f in futures] == list(range(200)), burst
            before = empty_polls[0]
            wait_for(lambda before=before: empty_polls[0] > before + 1, WAIT,
                     message="the poll to time out while idle")
    finally:
        stop.set()
        loop.join(WAIT)
        pool.shutdown(wait=True)
