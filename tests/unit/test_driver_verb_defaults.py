"""The Driver base class derives the sync or the future form of each verb from the other."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import pytest

from messaging.driver import Driver, Listener, Reply
from messaging.exceptions import MessagingTimeout
from messaging.target import Target
from messaging.url import TransportURL

URL = TransportURL.parse("test://")


class _Base(Driver):
    def listen(self, target: Target) -> Listener:
        raise NotImplementedError

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        raise NotImplementedError


class SyncOnly(_Base):
    """A third-party driver that implements only the synchronous verbs."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.threads: list[str] = []
        self.sent: list[Any] = []

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None) -> Reply:
        self.threads.append(threading.current_thread().name)
        return Reply(result=message["args"])

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        self.sent.append(("cast", message))

    def notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
               version: float = 2.0, retry: int | None = None) -> None:
        self.sent.append(("notify", message))


class FutureOnly(_Base):
    """A driver that implements only the future verbs."""

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None) -> Future[Reply]:
        f: Future[Reply] = Future()
        if message["method"] == "hang":
            return f  # broken on purpose: never completes
        f.set_result(Reply(result="from-future"))
        return f

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None) -> Future[None]:
        f: Future[None] = Future()
        f.set_result(None)
        return f

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any],
                      message: Mapping[str, Any], *, version: float = 2.0,
                      retry: int | None = None) -> Future[None]:
        f: Future[None] = Future()
        f.set_exception(MessagingTimeout("refused"))
        return f


def test_sync_only_driver_gets_future_verbs_on_a_pool():
    d = SyncOnly(None, URL)
    try:
        reply = d.submit_call(Target(topic="t"), {}, {"method": "m", "args": 7}, timeout=5)
        assert reply.result(5) == Reply(result=7)
        assert d.threads and d.threads[0].startswith("messaging-test-submit")
        assert d.submit_cast(Target(topic="t"), {}, {"method": "c"}).result(5) is None
        assert d.submit_notify(Target(topic="t.info"), {}, {"p": 1}).result(5) is None
        assert d.sent == [("cast", {"method": "c"}), ("notify", {"p": 1})]
    finally:
        d.cleanup()


def test_future_only_driver_gets_sync_verbs():
    d = FutureOnly(None, URL)
    assert d.call(Target(topic="t"), {}, {"method": "m"}, timeout=5).result == "from-future"
    assert d.cast(Target(topic="t"), {}, {"method": "m"}) is None
    with pytest.raises(MessagingTimeout, match="refused"):
        d.notify(Target(topic="t.info"), {}, {})


def test_sync_call_on_a_future_that_never_ends_still_times_out():
    class Impatient(FutureOnly):
        call_grace = 0.2

    d = Impatient(None, URL)
    with pytest.raises(MessagingTimeout, match="not delivered in time"):
        d.call(Target(topic="t"), {}, {"method": "hang"}, timeout=0.1)


def test_driver_implementing_neither_form_is_refused():
    class Neither(_Base):
        pass

    with pytest.raises(TypeError, match="call or submit_call; cast or submit_cast"):
        Neither(None, URL)
