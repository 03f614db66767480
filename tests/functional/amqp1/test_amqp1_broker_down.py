"""A broker that is down (nothing listens): every verb ends in its bound, with the reason."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import messaging


def _down_url(port: int, query: str = "") -> str:
    base = (f"amqp://guest:guest@127.0.0.1:{port}/?connection_retry_interval=0.2"
            f"&connection_retry_backoff=0&connection_retry_interval_max=0.5")
    return base + (f"&{query}" if query else "")


def test_a_call_ends_at_its_timeout_naming_the_broker(make_transport, dead_port, topic):
    transport = make_transport(url_=_down_url(dead_port))
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=1.5)
    start = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout, match="unreachable") as info:
        client.call({}, "anything")
    assert 1.4 <= time.monotonic() - start < 4
    assert "guest:guest" not in str(info.value)


def test_a_cast_without_retry_fails_at_the_first_failed_attempt(make_transport, dead_port,
                                                               topic):
    transport = make_transport(url_=_down_url(dead_port))
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), retry=0)
    start = time.monotonic()
    with pytest.raises(messaging.MessageDeliveryFailure, match=r"(?i)refused"):
        client.cast({}, "anything")
    assert time.monotonic() - start < 3


def test_sends_fail_at_the_send_timeout(make_transport, dead_port, topic):
    transport = make_transport(url_=_down_url(
        dead_port, "default_send_timeout=1.5&default_notify_timeout=1.5"))
    start = time.monotonic()
    with pytest.raises(messaging.MessageDeliveryFailure, match="deadline"):
        transport.cast(messaging.Target(topic=topic), {}, {"method": "m", "args": {}})
    with pytest.raises(messaging.MessageDeliveryFailure, match="deadline"):
        transport.notify(messaging.Target(topic=f"{topic}.info"), {}, {"priority": "INFO"})
    assert time.monotonic() - start < 5


def test_a_listener_returns_at_once_and_says_why(make_transport, dead_port, topic):
    transport = make_transport(url_=_down_url(dead_port))
    start = time.monotonic()
    listener = transport.listen(messaging.Target(topic=topic, server="s1"))
    try:
        assert time.monotonic() - start < 5
        assert not listener.consuming
        assert "refused" in (listener.last_error or "").lower()
    finally:
        listener.cleanup()


def test_an_attempt_that_gets_no_open_is_abandoned_at_connect_timeout(make_transport, topic):
    with socket.socket() as silent:  # accepts TCP (the kernel does) and never speaks AMQP
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        transport = make_transport(url_=_down_url(port, "connect_timeout=0.5&"
                                                        "default_send_timeout=2.5"))
        done = threading.Event()
        errors: list[BaseException] = []

        def cast() -> None:
            try:
                transport.cast(messaging.Target(topic=topic), {}, {"method": "m", "args": {}},
                               retry=0)
            except BaseException as exc:
                errors.append(exc)
            done.set()

        threading.Thread(target=cast, daemon=True).start()
        assert done.wait(10)
    assert errors and isinstance(errors[0], messaging.MessageDeliveryFailure)
    assert "no AMQP open" in str(errors[0])


def test_a_refused_login_fails_sends_at_once_without_the_password(make_transport, node, topic):
    transport = make_transport(url_=f"amqp://guest:wrong-secret@127.0.0.1:{node.port}/")
    start = time.monotonic()
    with pytest.raises(messaging.MessageDeliveryFailure) as info:
        transport.cast(messaging.Target(topic=topic), {}, {"method": "m", "args": {}})
    assert time.monotonic() - start < 5  # not default_send_timeout: retrying cannot help
    assert "wrong-secret" not in str(info.value)
