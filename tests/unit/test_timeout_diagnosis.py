"""MessagingTimeout says where to look: not accepted by the bus, no server, or a silent server."""

from __future__ import annotations

import threading

import pytest

from messaging.correlation import ReplyCorrelator
from messaging.exceptions import MessagingTimeout
from messaging.target import Target


def _timeout_text(listeners, sent: bool = True, timeout: float = 0.3) -> str:
    c = ReplyCorrelator("reply_q", listeners=listeners)
    future = c.register("m1", timeout, target=Target(topic="t", server="s"), method="run")
    if sent:
        c.sent("m1")
    with pytest.raises(MessagingTimeout) as info:
        future.result(5)
    return str(info.value)


def test_no_server_listening():
    text = _timeout_text(lambda target: 0)
    assert "no server is listening" in text
    assert "'run'" in text and "server=s" in text and "reply_q" in text and "0.3 s" in text


def test_server_never_answered():
    text = _timeout_text(lambda target: 2)
    assert "2 server(s) listen on it, so the server never answered" in text


def test_bus_did_not_accept_the_request():
    asked = []
    text = _timeout_text(lambda target: asked.append(target) or 1, sent=False)
    assert "the bus did not accept the request" in text


def test_a_driver_that_cannot_tell_keeps_the_plain_text():
    assert "no server took it or the server did not answer" in _timeout_text(lambda t: None)
    assert "no server took it" in _timeout_text(None)


def test_a_failing_count_does_not_break_the_call():
    def broken(target):
        raise OSError("the bus went away")

    assert "no server took it or the server did not answer" in _timeout_text(broken)


def test_the_count_runs_shortly_before_the_deadline_and_not_on_the_timer_thread():
    seen = {}
    counted = threading.Event()

    def listeners(target):
        seen["thread"] = threading.current_thread().name
        seen["target"] = target
        counted.set()
        return 0

    c = ReplyCorrelator("q", listeners=listeners)
    target = Target(topic="t")
    future = c.register("m1", 0.5, target=target, method="run")
    c.sent("m1")
    assert counted.wait(5)
    assert not future.done()  # counted before the deadline
    with pytest.raises(MessagingTimeout, match="no server is listening"):
        future.result(5)
    assert seen["target"] is target
    assert seen["thread"].startswith("messaging-timeout-check")
