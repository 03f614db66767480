"""The getting-started scenario, run end to end on the in-memory transport.

It follows the README's "Getting started": an RPC server with two
namespaced endpoints, calls by namespace, the fanout cast, an unknown
method, then a notifier and a listener whose ``warn``/``error`` endpoints
run. Each step is written to ``out`` in plain words.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

import messaging

__all__ = ["run"]


class TestEndpoint:
    """The first endpoint, in ``namespace1``."""

    target = messaging.Target(namespace="namespace1", version="1.0")

    def __init__(self, say: Any) -> None:
        self._say = say

    def test(self, ctx: dict[str, Any], arg: str) -> str:
        self._say(f"  [server] TestEndpoint.test got {arg!r}")
        return arg


class AnotherTestEndpoint:
    """The second endpoint, in ``namespace2``; signals when a cast arrives."""

    target = messaging.Target(namespace="namespace2", version="1.0")

    def __init__(self, say: Any) -> None:
        self._say = say
        self.called = threading.Event()

    def test(self, ctx: dict[str, Any], arg: str) -> str:
        self._say(f"  [server] AnotherTestEndpoint.test got {arg!r}")
        self.called.set()
        return arg


class NotificationEndpoint:
    """Handles WARN notifications (the method is named after the priority)."""

    def __init__(self, say: Any, seen: threading.Event) -> None:
        self._say, self._seen = say, seen

    def warn(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: dict[str, Any]) -> Any:
        self._say(f"  [listener] warn: {event_type!r} {payload} from {publisher_id}")
        self._seen.set()
        return messaging.NotificationResult.HANDLED


class ErrorEndpoint:
    """Handles ERROR notifications."""

    def __init__(self, say: Any, seen: threading.Event) -> None:
        self._say, self._seen = say, seen

    def error(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
              metadata: dict[str, Any]) -> Any:
        self._say(f"  [listener] error: {event_type!r} {payload} from {publisher_id}")
        self._seen.set()
        return messaging.NotificationResult.HANDLED


def run(out: TextIO, url: str = "fake://") -> None:
    """Run the scenario on ``url`` and narrate it to ``out``."""
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            out.write(text + "\n")
            out.flush()

    say(f"Transport: {url} (in memory, no broker needed)")
    with messaging.get_transport(None, url=url) as transport:
        _rpc(transport, say)
        _notifications(transport, say)
    say("Done: every step behaved as described.")


def _rpc(transport: messaging.Transport, say: Any) -> None:
    another = AnotherTestEndpoint(say)
    target = messaging.Target(topic="test", server="server1")
    server = messaging.get_rpc_server(transport, target, [TestEndpoint(say), another],
                                      executor="threading")
    server.start()
    say("RPC server 'server1' listens on topic 'test' with endpoints in "
        "namespace1 and namespace2.")
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="test"), timeout=10)
        for ns in ("namespace1", "namespace2"):
            say(f"call(namespace={ns!r}, method='test') waits for the answer...")
            result = client.prepare(namespace=ns).call({}, "test", arg=f"hello {ns}")
            say(f"  [client] returned {result!r}")

        another.called.clear()
        say("cast(fanout=True, namespace='namespace2') returns at once, without a result:")
        fanout = messaging.get_rpc_client(transport, messaging.Target(
            topic="test", server="server1", namespace="namespace2", fanout=True))
        fanout.cast(ctxt={}, method="test", arg="this is text")
        say("  [client] cast returned None before knowing whether the server ran it")
        if not another.called.wait(10):
            raise RuntimeError("the fanout cast never reached the server")

        say("call of a method no endpoint has:")
        try:
            client.prepare(namespace="namespace1").call({}, "no_such_method")
        except messaging.NoSuchMethod as exc:
            say(f"  [client] raised NoSuchMethod: {exc}")
        say("call of a version no endpoint offers:")
        try:
            client.prepare(namespace="namespace1", version="2.0").call({}, "test", arg="x")
        except messaging.UnsupportedVersion as exc:
            say(f"  [client] raised UnsupportedVersion: {exc}")
        say("call to a topic nobody serves, with timeout=0.2 s:")
        try:
            client.prepare(topic="nobody", timeout=0.2).call({}, "test", arg="x")
        except messaging.MessagingTimeout:
            say("  [client] raised MessagingTimeout after 0.2 s")
    finally:
        server.stop()
        server.wait()
    say("RPC server stopped.")


def _notifications(transport: messaging.Transport, say: Any) -> None:
    warned, errored = threading.Event(), threading.Event()
    targets = [messaging.Target(topic="notification_1"), messaging.Target(topic="notification_2")]
    listener = messaging.get_notification_listener(
        transport, targets, [NotificationEndpoint(say, warned), ErrorEndpoint(say, errored)],
        executor="threading")
    listener.start()
    say("Notification listener subscribed to notification_1 and notification_2 "
        "(warn and error priorities).")
    try:
        notifier = messaging.Notifier(transport, publisher_id="demo.host1", driver="messaging",
                                      topics=["notification_1"])
        say("Notifier sends error and warn to notification_1 and returns at once:")
        notifier.error(ctxt={}, event_type="this is type", payload={"hello": "world"})
        notifier.warn(ctxt={}, event_type="this is type", payload={"hello": "world"})
        if not (errored.wait(10) and warned.wait(10)):
            raise RuntimeError("the listener did not receive both notifications")
    finally:
        listener.stop()
        listener.wait()
    say("Listener stopped. (A notifier must write to a topic its listener subscribes to: "
        "both use notification_1 here.)")
