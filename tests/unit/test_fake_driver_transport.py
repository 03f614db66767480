"""fake:// as a transport: URL handling, vhosts, capabilities, cleanup."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from messaging.driver import Listener, Reply
from messaging.exceptions import InvalidTransportURL, MessagingTimeout
from messaging.target import Target
from messaging.transport import get_transport


def _req(method: str) -> dict[str, Any]:
    return {"method": method, "args": {}}


def _methods(listener: Listener) -> list[str]:
    return [m.message["method"] for m in listener.poll(timeout=0, max_messages=100)]


def test_capabilities() -> None:
    with get_transport(None, "fake://") as t:
        caps = t.capabilities
    assert caps.fanout and caps.competing_consumers and caps.requeue and caps.pools
    assert caps.durable_notifications and caps.call_monitor
    assert caps.rpc_delivery == "at-most-once"
    assert caps.notification_delivery == "at-least-once"
    assert not caps.publisher_confirms


def test_same_vhost_is_shared_and_other_vhosts_are_isolated() -> None:
    vhost = f"v-{uuid.uuid4().hex}"
    topic = f"t-{uuid.uuid4().hex}"
    a = get_transport(None, f"fake:///{vhost}")
    b = get_transport(None, f"fake://somehost:1234/{vhost}")  # hosts are ignored
    other = get_transport(None, f"fake:///{vhost}-other")
    try:
        listener = a.listen(Target(topic=topic, server="s1"))
        other.cast(Target(topic=topic), {}, _req("from_other_vhost"))
        b.cast(Target(topic=topic), {}, _req("from_same_vhost"))
        assert _methods(listener) == ["from_same_vhost"]
    finally:
        for t in (a, b, other):
            t.cleanup()


def test_default_vhost_spellings_share_one_bus() -> None:
    topic = f"t-{uuid.uuid4().hex}"
    a = get_transport(None, "fake://")
    b = get_transport(None, "fake:///")
    try:
        listener = a.listen(Target(topic=topic, server="s1"))
        b.cast(Target(topic=topic), {}, _req("hello"))
        assert _methods(listener) == ["hello"]
    finally:
        a.cleanup()
        b.cleanup()


def test_call_between_two_transports() -> None:
    vhost = f"v-{uuid.uuid4().hex}"
    server_side = get_transport(None, f"fake:///{vhost}")
    client_side = get_transport(None, f"fake:///{vhost}")
    listener = server_side.listen(Target(topic="t", server="s1"))

    def serve() -> None:
        [msg] = listener.poll(timeout=5)
        msg.acknowledge()
        msg.reply(Reply(result="pong"))

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert client_side.call(Target(topic="t"), {}, _req("ping"), timeout=5).result == "pong"
    finally:
        thread.join(5)
        server_side.cleanup()
        client_side.cleanup()


def test_unknown_url_option_is_rejected() -> None:
    with pytest.raises(InvalidTransportURL) as info:
        get_transport(None, "fake:///?frobnicate=1")
    assert "frobnicate" in str(info.value)


def test_cleanup_stops_the_drivers_listeners() -> None:
    t = get_transport(None, f"fake:///v-{uuid.uuid4().hex}")
    listener = t.listen(Target(topic="t", server="s1"))
    polled: list[Any] = []
    thread = threading.Thread(target=lambda: polled.append(listener.poll(timeout=30)))
    thread.start()
    start = time.monotonic()
    t.cleanup()
    thread.join(5)
    assert time.monotonic() - start < 5
    assert polled == [[]]


def test_cleanup_wakes_a_pending_call() -> None:
    vhost = f"v-{uuid.uuid4().hex}"
    server_side = get_transport(None, f"fake:///{vhost}")
    client_side = get_transport(None, f"fake:///{vhost}")
    listener = server_side.listen(Target(topic="t", server="s1"))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client_side.call(Target(topic="t"), {}, _req("never_answered"), timeout=30)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    try:
        [msg] = listener.poll(timeout=5)  # the call is now in flight
        start = time.monotonic()
        client_side.cleanup()
        thread.join(5)
        assert time.monotonic() - start < 5
        assert len(errors) == 1 and isinstance(errors[0], MessagingTimeout)
        msg.reply(Reply(result="too late"))  # the reply queue is gone: dropped quietly
    finally:
        server_side.cleanup()


def test_reset_forgets_a_vhost() -> None:
    from messaging_fake import bus

    topic = f"t-{uuid.uuid4().hex}"
    with get_transport(None, "fake:///reset-me") as t:
        t.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO", "event_type": "x"})
    bus.reset("reset-me")
    with get_transport(None, "fake:///reset-me") as t:
        listener = t.listen_for_notifications([(Target(topic=topic), "info")])
        assert listener.poll(timeout=0) == []
