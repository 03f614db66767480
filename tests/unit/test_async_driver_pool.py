"""The driver base's pool behind default future verbs, as the async front ends need it."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from messaging.driver import Driver, Listener, Reply
from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.target import Target
from messaging.testing.helpers import wait_for
from messaging.url import TransportURL


class SyncOnly(Driver):
    """Sync verbs only; ``call`` and ``cast`` wait for ``gate`` and record what they sent."""

    submit_workers = 2

    def __init__(self) -> None:
        super().__init__(None, TransportURL.parse("pool://"))
        self.gate = threading.Event()
        self.sent: list[Any] = []
        self.running: list[Any] = []

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None) -> Reply:
        self.sent.append(message["method"])
        self.gate.wait(10)
        return Reply(result=message["method"])

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        self.running.append(message["method"])
        self.gate.wait(10)
        self.sent.append(message["method"])

    def notify(self, *args: Any, **kwargs: Any) -> None:
        self.sent.append("notify")

    def listen(self, target: Target) -> Listener:
        raise NotImplementedError

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        raise NotImplementedError


def _pool_threads() -> int:
    return sum(t.name.startswith("messaging-pool-submit") for t in threading.enumerate())


def test_the_pool_starts_all_its_threads_on_first_use():
    driver = SyncOnly()
    driver.gate.set()
    try:
        assert _pool_threads() == 0
        driver.submit_notify(Target(topic="t.info"), {}, {}).result(5)
        assert _pool_threads() == SyncOnly.submit_workers  # none left to start inside submit
    finally:
        driver.cleanup()


def test_a_cancelled_call_is_still_sent_and_its_outcome_dropped():
    driver = SyncOnly()
    try:
        future = driver.submit_call(Target(topic="t"), {}, {"method": "m"}, timeout=5)
        assert future.cancel()
        driver.gate.set()
        driver.submit_notify(Target(topic="t.info"), {}, {}).result(5)
        assert "m" in driver.sent
        assert future.cancelled()
    finally:
        driver.cleanup()


def test_verbs_the_pool_never_ran_end_when_the_driver_is_cleaned_up():
    driver = SyncOnly()
    busy = [driver.submit_cast(Target(topic="t"), {}, {"method": f"busy{i}"})
            for i in range(SyncOnly.submit_workers)]
    wait_for(lambda: len(driver.running) == SyncOnly.submit_workers, message="a busy pool")
    queued_call = driver.submit_call(Target(topic="t"), {}, {"method": "queued"}, timeout=5)
    queued_cast = driver.submit_cast(Target(topic="t"), {}, {"method": "queued"})
    driver.cleanup()
    with pytest.raises(MessagingTimeout, match="cleaned up"):
        queued_call.result(5)
    with pytest.raises(MessageDeliveryFailure, match="cleaned up"):
        queued_cast.result(5)
    driver.gate.set()
    for future in busy:
        assert future.result(5) is None
    assert "queued" not in driver.sent
