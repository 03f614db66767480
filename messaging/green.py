"""Running under eventlet: detect monkey-patching and run dispatches on green threads.

Many OpenStack services still monkey-patch with eventlet. Nothing here
imports eventlet unless the process is monkey-patched or the user asks for
the ``eventlet`` executor, so the default path never loads it.

In a monkey-patched process every "thread" is a green thread, but locks
made before the patch (such as the standard library's
``concurrent.futures`` module lock, taken while a thread pool starts a
worker) are real ones: a green thread that yields while holding one blocks
every other green thread of the process. A server therefore runs its
dispatches on a pool of green threads there (:class:`EventletExecutor`),
as oslo.messaging's eventlet executor did, whatever executor it was given.
"""

from __future__ import annotations

import concurrent.futures
import logging
import sys
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["EVENTLET_DEPRECATION", "EventletExecutor", "is_monkey_patched", "server_executor"]

LOG = logging.getLogger(__name__)

#: oslo.messaging's words (its ``executor`` argument carries them).
EVENTLET_DEPRECATION = ("Using the 'executor' argument is deprecated: the eventlet executor is "
                        "now deprecated. Threading will be the only execution model available.")


def is_monkey_patched(module: str = "thread") -> bool:
    """True if eventlet monkey-patched ``module`` in this process (never imports eventlet)."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None:
        return False
    try:
        return bool(patcher.is_monkey_patched(module))
    except Exception:  # an eventlet too odd to ask: assume a normal process
        return False


def server_executor(name: str | None) -> str:
    """The executor a server runs: ``name``, or ``eventlet`` where threads are green.

    ``None`` means ``threading``, except in a monkey-patched process, where
    it means ``eventlet`` (oslo.messaging's default there); so does
    ``threading`` there, since its pool cannot start green workers safely.
    Asking for ``eventlet`` warns as oslo.messaging does: it is deprecated.
    """
    if name == "eventlet":
        # stacklevel: the caller of get_rpc_server / get_notification_listener
        warnings.warn(EVENTLET_DEPRECATION, DeprecationWarning, stacklevel=5)
        return name
    if name in (None, "threading") and is_monkey_patched():
        if name == "threading":
            LOG.debug("eventlet monkey-patched this process: the server runs its "
                      "dispatches on green threads")
        return "eventlet"
    return name or "threading"


class EventletExecutor(concurrent.futures.Executor):
    """Runs each task on a green thread of an eventlet ``GreenPool`` of ``max_workers``."""

    def __init__(self, max_workers: int | None = None) -> None:
        from eventlet import greenpool

        self._pool = greenpool.GreenPool(max_workers or 64)
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any,
               ) -> concurrent.futures.Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a green thread; the future gets its outcome."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new work after shutdown")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the future, as a pool would
                future.set_exception(exc)
            else:
                future.set_result(result)

        self._pool.spawn_n(run)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True
        if wait:
            self._pool.waitall()
