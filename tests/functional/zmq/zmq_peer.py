"""A server process for the cross-process zmq tests (run as a script, not collected).

``python zmq_peer.py '<json spec>'`` starts the RPC servers and notification
listeners the spec names on its transport URL, prints one JSON line per
event on stdout (``ready`` once every server is registered, then one line
per call, cast or notification an endpoint saw), and stops them cleanly when
its stdin closes (or dies when the test kills it).

Spec: ``{"name": "p1", "url": "zmq:///ns", "rpc": [{"topic": "t", "server": "s1"}],
"notify": [{"topic": "n", "pool": null}]}``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import messaging

_print_lock = threading.Lock()


def emit(**event: Any) -> None:
    """One event as a JSON line on stdout."""
    with _print_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class AppError(Exception):
    """An exception of a module the client does not allow: arrives as RemoteError."""


class Endpoint:
    """The RPC endpoint every test server exposes."""

    def __init__(self, name: str, server: str) -> None:
        self.name = name
        self.server = server

    def echo(self, ctxt: Any, value: Any) -> Any:
        emit(event="call", server=self.server, value=value)
        return {"server": self.server, "value": value, "ctxt": ctxt}

    def whoami(self, ctxt: Any, n: int = 0) -> str:
        emit(event="call", server=self.server, value=n)
        return self.server

    def record(self, ctxt: Any, value: Any) -> None:
        emit(event="cast", server=self.server, value=value)

    def sleep_for(self, ctxt: Any, seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    def value_error(self, ctxt: Any) -> None:
        raise ValueError("bad value", 42)

    def app_error(self, ctxt: Any) -> None:
        raise AppError("custom failure")


class Versioned:
    target = messaging.Target(namespace="ns2", version="1.3")

    def echo(self, ctxt: Any, value: Any) -> str:
        return f"ns2:{value}"


class Listener:
    """A notification endpoint recording ``info`` and ``error`` notifications."""

    def __init__(self, name: str, pool: str | None) -> None:
        self.name = name
        self.pool = pool

    def info(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
             metadata: Any) -> None:
        emit(event="notification", priority="info", listener=self.name, pool=self.pool,
             event_type=event_type, payload=payload)

    def error(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
              metadata: Any) -> None:
        emit(event="notification", priority="error", listener=self.name, pool=self.pool,
             event_type=event_type, payload=payload)


def main() -> int:
    spec = json.loads(sys.argv[1])
    name = spec["name"]
    transport = messaging.get_rpc_transport(None, spec["url"])
    servers: list[Any] = []
    for rpc in spec.get("rpc", []):
        servers.append(messaging.get_rpc_server(
            transport, messaging.Target(topic=rpc["topic"], server=rpc["server"]),
            [Endpoint(name, rpc["server"]), Versioned()], executor="threading"))
    for n in spec.get("notify", []):
        servers.append(messaging.get_notification_listener(
            transport, [messaging.Target(topic=n["topic"])], [Listener(name, n.get("pool"))],
            executor="threading", pool=n.get("pool")))
    for server in servers:
        server.start()
    emit(event="ready", name=name, consuming=all(s.consuming for s in servers))
    sys.stdin.read()  # until the test closes our stdin
    for server in servers:
        server.stop()
    for server in servers:
        server.wait()
    transport.cleanup()
    emit(event="stopped", name=name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
