"""``Driver.offload`` runs a blocking step of a native future verb on the driver's pool."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import pytest

from messaging.driver import Driver, Listener, Reply
from messaging.exceptions import MessageDeliveryFailure
from messaging.target import Target
from messaging.url import TransportURL


class BlockingLibraryDriver(Driver):
    """Native future verbs over a client library whose writes block."""

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None) -> Future[Reply]:
        return self.offload(lambda: Reply(result=threading.current_thread().name))

    # The rest of the interface is not what these tests are about.
    def submit_cast(self, *args: Any, **kwargs: Any) -> Future[None]:
        raise NotImplementedError

    def submit_notify(self, *args: Any, **kwargs: Any) -> Future[None]:
        raise NotImplementedError

    def listen(self, *args: Any, **kwargs: Any) -> Listener:
        raise NotImplementedError

    def listen_for_notifications(self, *args: Any, **kwargs: Any) -> Listener:
        raise NotImplementedError


@pytest.fixture
def driver():
    d = BlockingLibraryDriver(None, TransportURL.parse("blocking://"))
    yield d
    d.cleanup()


def test_the_step_runs_on_a_pool_thread_and_its_result_ends_the_future(driver):
    reply = driver.submit_call(Target(topic="t"), {}, {"method": "m"}, timeout=5).result(5)
    assert reply.result.startswith("messaging-blocking-submit")
    assert reply.result != threading.current_thread().name


def test_the_caller_returns_while_the_step_still_blocks(driver):
    release = threading.Event()
    future = driver.offload(lambda: release.wait(10))
    assert not future.done()
    release.set()
    assert future.result(10) is True


def test_an_error_of_the_step_ends_the_future(driver):
    def refuse() -> None:
        raise MessageDeliveryFailure("the bus file refused a write")

    with pytest.raises(MessageDeliveryFailure, match="refused a write"):
        driver.offload(refuse).result(5)


class OneWorker(BlockingLibraryDriver):
    submit_workers = 1


def test_a_step_never_run_before_cleanup_fails_as_undelivered():
    d = OneWorker(None, TransportURL.parse("blocking://"))
    hold = threading.Event()
    started = threading.Event()

    def busy() -> None:
        started.set()
        hold.wait(10)

    d.offload(busy)
    assert started.wait(10)
    queued = d.offload(lambda: "never")
    d.cleanup()
    hold.set()
    with pytest.raises(MessageDeliveryFailure, match="cleaned up"):
        queued.result(10)
