"""The server side of ``messaging bench``, run as ``python -m messaging.bench.server``.

Arguments: ``URL TOPIC KIND`` with KIND ``rpc`` (an RPC server on TOPIC,
server name ``bench``) or ``notify`` (a listener on TOPIC's ``info``).
It prints ``ready`` once serving, then answers one command per line on
stdin, each with one JSON line on stdout:

- ``reset``: zero the handled count and the CPU clock;
- ``wait N SECONDS``: block until N messages were handled since ``reset``
  (or SECONDS passed), then report ``{"handled", "cpu"}``;
- ``quit``: stop and exit.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

from .. import (
    get_notification_listener,
    get_notification_transport,
    get_rpc_server,
    get_rpc_transport,
)
from ..notify.dispatcher import NotificationResult
from ..server import MessageHandlingServer
from ..target import Target


class Counter:
    """Messages handled, with a wait for a count."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0

    def add(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def reset(self) -> None:
        with self._cond:
            self.count = 0

    def wait(self, n: int, timeout: float) -> int:
        with self._cond:
            self._cond.wait_for(lambda: self.count >= n, timeout)
            return self.count


class BenchEndpoint:
    """RPC methods the bench client calls, and the notification endpoint."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    def echo(self, ctxt: Any, data: Any) -> Any:
        self._counter.add()
        return data

    def sink(self, ctxt: Any, data: Any) -> None:
        self._counter.add()

    def info(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
             metadata: Any) -> str:
        self._counter.add()
        return NotificationResult.HANDLED


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def serve(url: str, topic: str, kind: str, stdin: Any, stdout: Any) -> int:
    """Serve ``topic`` on ``url`` and answer the parent's commands until ``quit``."""
    counter = Counter()
    endpoint = BenchEndpoint(counter)
    server: MessageHandlingServer
    if kind == "rpc":
        transport = get_rpc_transport(None, url)
        server = get_rpc_server(transport, Target(topic=topic, server="bench"), [endpoint],
                                executor="threading")
    else:
        transport = get_notification_transport(None, url)
        server = get_notification_listener(transport, [Target(topic=topic)], [endpoint],
                                           executor="threading")
    server.start()
    stdout.write("ready\n")
    stdout.flush()
    cpu0 = _cpu()
    try:
        for line in stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "reset":
                counter.reset()
                cpu0 = _cpu()
                report: dict[str, Any] = {"handled": 0}
            elif words[0] == "wait":
                handled = counter.wait(int(words[1]), float(words[2]))
                report = {"handled": handled, "cpu": _cpu() - cpu0}
            elif words[0] == "quit":
                break
            else:
                report = {"error": f"unknown command {words[0]!r}"}
            stdout.write(json.dumps(report) + "\n")
            stdout.flush()
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2], sys.argv[3], sys.stdin, sys.stdout))
