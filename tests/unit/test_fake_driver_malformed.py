"""fake:// malformed bodies: logged, dropped, and the listener keeps serving."""

from __future__ import annotations

import logging

import pytest

from messaging.driver import RpcIncomingMessage
from messaging.target import Target
from messaging.transport import Transport

BAD_BODIES = [
    b"not json at all",
    b"[1, 2, 3]",
    b'"a string"',
    b'{"oslo.version": "2.0", "oslo.message": "{broken"}',
    b'{"oslo.version": "2.0", "oslo.message": "[1]"}',
    b'{"oslo.version": "9.0", "oslo.message": "{}"}',
    b'{"args": {}}',
    b'{"method": "m", "args": [1]}',
    b"\xff\xfe\x00",
    b"",
]


@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize("to_server", [True, False], ids=["server-queue", "topic-queue"])
def test_malformed_body_is_dropped_and_next_served(transport: Transport, body: bytes,
                                                   to_server: bool,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    target = Target(topic="t", server="s1")
    listener = transport.listen(target)
    hooks = transport.driver.testing
    assert hooks is not None
    with caplog.at_level(logging.WARNING):
        hooks.publish_raw(target if to_server else Target(topic="t"), body)
        transport.cast(Target(topic="t"), {}, {"method": "good", "args": {}})
        got = listener.poll(timeout=5, max_messages=5)
    assert [m.message["method"] for m in got] == ["good"]
    assert any("malformed" in r.getMessage().lower() for r in caplog.records)
    assert listener.poll(timeout=0) == []


def test_only_malformed_then_timeout_returns_empty(transport: Transport) -> None:
    target = Target(topic="t", server="s1")
    listener = transport.listen(target)
    hooks = transport.driver.testing
    assert hooks is not None
    for body in BAD_BODIES:
        hooks.publish_raw(target, body)
    assert listener.poll(timeout=0.1, max_messages=1) == []


def test_raw_body_published_before_the_server_waits_for_it(transport: Transport) -> None:
    target = Target(topic="t", server="s1")
    hooks = transport.driver.testing
    assert hooks is not None
    hooks.publish_raw(target, b'{"method": "bare", "args": {"x": 1}}')  # 1.0: no envelope
    listener = transport.listen(target)
    [msg] = listener.poll(timeout=5)
    assert isinstance(msg, RpcIncomingMessage)
    assert msg.message == {"method": "bare", "args": {"x": 1}}
    assert not msg.wants_reply
