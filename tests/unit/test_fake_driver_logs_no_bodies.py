"""fake:// never logs a message's bytes at WARNING or above: the size and why, bytes at DEBUG."""

from __future__ import annotations

import logging

import pytest

from messaging.target import Target
from messaging.transport import Transport

SECRET = b"kit-secret-4f2a"


def test_a_malformed_body_is_logged_by_size_and_reason_only(
        transport: Transport, caplog: pytest.LogCaptureFixture) -> None:
    target = Target(topic="t", server="s1")
    listener = transport.listen(target)
    hooks = transport.driver.testing
    assert hooks is not None
    body = b'{"password": "' + SECRET
    with caplog.at_level(logging.DEBUG, logger="messaging_fake"):
        hooks.publish_raw(target, body)
        assert listener.poll(timeout=0.5) == []
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("malformed" in m and f"{len(body)} bytes" in m for m in loud), loud
    assert not any(SECRET.decode() in m for m in loud), loud
    quiet = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(SECRET.decode() in m for m in quiet), "the bytes are not even at DEBUG"
