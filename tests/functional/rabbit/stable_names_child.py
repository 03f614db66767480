"""A child process for the stable-queue-name tests: one driver with use_queue_manager.

Usage: python stable_names_child.py DRIVER_CLASS URL TOPIC ID CALLS

Prints one JSON line with the names it built (its reply queue, and the
fanout queue of a server it starts on TOPIC_own), waits for a line on stdin,
then makes CALLS calls to TOPIC with ``args={"id": ID, "n": k}`` and prints
a JSON line: how many replies carried its own ID and k, and the mismatches.
"""

from __future__ import annotations

import importlib
import json
import sys

from messaging.target import Target
from messaging.url import TransportURL


def main() -> int:
    path, url, topic, ident, calls = sys.argv[1:6]
    module, _, name = path.partition(":")
    driver = getattr(importlib.import_module(module), name)(None, TransportURL.parse(url))
    try:
        listener = driver.listen(Target(topic=f"{topic}_own", server=ident))
        fanout = next(q.name for q in listener.queues if "_fanout" in q.name)
        reply = driver._reply_queue().queue_name
        print(json.dumps({"reply": reply, "fanout": fanout}), flush=True)
        sys.stdin.readline()
        mine = 0
        wrong = []
        for k in range(int(calls)):
            result = driver.call(Target(topic=topic), {}, {"method": "echo", "args": {
                "id": ident, "n": k}}, timeout=30).result
            if result == {"id": ident, "n": k}:
                mine += 1
            else:
                wrong.append(result)
        print(json.dumps({"mine": mine, "wrong": wrong}), flush=True)
        listener.cleanup()
    finally:
        driver.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
