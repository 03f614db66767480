"""The server side of ``messaging bench`` (and of ``tox -e bench``'s rows for this library).

Run as ``python -m messaging.bench.server TOPIC KIND`` with the transport URL
in ``$MESSAGING_BENCH_URL`` (never on the command line) and, optionally, a
JSON ``conf`` dict in ``$MESSAGING_BENCH_CONF``. KIND ``rpc`` serves an RPC
server on TOPIC (server name ``bench``, the threading executor), ``notify``
a notification listener on TOPIC's ``info``. It then speaks the protocol of
:mod:`messaging.bench.protocol`. :class:`BenchServer` is the same server in
the caller's process, for ``fake://`` (whose bus is in memory).
"""

from __future__ import annotations

import json
import os
import sys
from types import ModuleType
from typing import Any

from .protocol import CONF_ENV, URL_ENV, Counter, answer_commands

__all__ = ["KINDS", "BenchEndpoint", "BenchServer", "main"]

KINDS = ("rpc", "notify")


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
        return "handled"  # NotificationResult.HANDLED, in this library and in oslo.messaging


class BenchServer:
    """An RPC server (``kind='rpc'``) or notification listener (``'notify'``) counting what
    it handles.

    ``api`` is the module whose oslo.messaging API builds it: this library by
    default; ``tox -e bench`` passes ``oslo_messaging`` itself, so both rows
    run the same server code.
    """

    def __init__(self, url: str, topic: str, kind: str, conf: Any = None,
                 api: ModuleType | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown bench server kind {kind!r}; choose from "
                             f"{', '.join(KINDS)}")
        if api is None:
            import messaging

            api = messaging
        self.counter = Counter()
        endpoint = BenchEndpoint(self.counter)
        self._server: Any
        if kind == "rpc":
            self._transport = api.get_rpc_transport(conf, url=url)
            self._server = api.get_rpc_server(self._transport,
                                              api.Target(topic=topic, server="bench"),
                                              [endpoint], executor="threading")
        else:
            self._transport = api.get_notification_transport(conf, url=url)
            self._server = api.get_notification_listener(
                self._transport, [api.Target(topic=topic)], [endpoint], executor="threading")

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
        self._server.wait()
        self._transport.cleanup()


def main(argv: list[str]) -> int:
    """Process entry point: ``TOPIC KIND``, the URL from the environment."""
    if len(argv) != 2 or argv[1] not in KINDS:
        sys.stderr.write(f"usage: python -m messaging.bench.server TOPIC {{{','.join(KINDS)}}} "
                         f"(the URL in ${URL_ENV})\n")
        return 2
    url = os.environ.get(URL_ENV)
    if not url:
        sys.stderr.write(f"messaging.bench.server: ${URL_ENV} is not set\n")
        return 2
    conf = json.loads(os.environ[CONF_ENV]) if os.environ.get(CONF_ENV) else None
    server = BenchServer(url, argv[0], argv[1], conf)
    server.start()
    try:
        answer_commands(server.counter, sys.stdin, sys.stdout)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
