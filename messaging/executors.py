"""Executors run a server's dispatches; loaded by name from ``messaging.executors``.

``blocking`` runs each dispatch in the server's polling thread (one at a
time, in order); ``threading`` runs them on a pool of
``executor_thread_pool_size`` threads. A third party may register more: any
:class:`concurrent.futures.Executor` taking ``max_workers`` will do.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

from .exceptions import ExecutorLoadFailure

__all__ = ["EXECUTOR_NAMESPACE", "BlockingExecutor", "ThreadingExecutor", "load_executor"]

EXECUTOR_NAMESPACE = "messaging.executors"


class BlockingExecutor(concurrent.futures.Executor):
    """Runs each task in the caller's thread before ``submit`` returns."""

    def __init__(self, max_workers: int | None = None) -> None:
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any,
               ) -> concurrent.futures.Future[Any]:
        if self._shutdown:
            raise RuntimeError("cannot schedule new work after shutdown")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the future, as a pool would
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


class ThreadingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose threads are named after the server."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers or 64, thread_name_prefix="messaging-worker")


def load_executor(name: str, max_workers: int) -> concurrent.futures.Executor:
    """Build the executor registered as ``name``; unknown names list the installed ones."""
    from stevedore import driver as sd_driver

    try:
        mgr: Any = sd_driver.DriverManager(EXECUTOR_NAMESPACE, name, invoke_on_load=True,
                                      invoke_kwds={"max_workers": max_workers})
    except Exception as exc:
        from importlib import metadata

        known = sorted(ep.name for ep in metadata.entry_points(group=EXECUTOR_NAMESPACE))
        raise ExecutorLoadFailure(name, f"{exc}; installed executors: {', '.join(known)}"
                                  ) from None
    executor: concurrent.futures.Executor = mgr.driver
    return executor
