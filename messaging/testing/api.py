"""The public API a kit test drives: the sync one as it is, or the async one behind it.

Kit tests that take the ``api`` fixture (``messaging_api`` in the plugin)
build their clients, servers, notifiers and listeners through it and run
twice: once with :class:`SyncApi` (``messaging.get_rpc_client`` and friends,
unchanged), once with :class:`AsyncApi`, where the same test goes through
the asyncio API end to end:

- clients are :class:`~messaging.AsyncRPCClient` s and notifiers
  :class:`~messaging.AsyncNotifier` s, awaited on an application event loop
  that runs in a background thread (the test thread blocks on the result,
  so the test reads the same);
- servers and listeners run ``executor='asyncio'`` and are started with
  ``await server.astart()`` on that loop (the "async application" case:
  endpoints run on the application's loop) and stopped with
  ``await server.astop()``;
- every endpoint method becomes an ``async def`` that awaits the test's own
  (sync, possibly blocking) method on a thread pool, so the dispatchers
  await coroutines, take their results, exceptions, ``REQUEUE`` and
  ``expected_exceptions`` from them, and the loop is never blocked.

Exceptions reach the test unchanged, so the same assertions hold for both.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from ..notify import (
    AsyncNotifier,
    Notifier,
    get_batch_notification_listener,
    get_notification_listener,
)
from ..rpc import get_async_rpc_client, get_rpc_client, get_rpc_server
from ..server import MessageHandlingServer
from ..steps import is_async_callable

__all__ = ["API_NAMES", "AsyncApi", "SyncApi", "make_api"]

T = TypeVar("T")
API_NAMES = ("sync", "async")
#: Seconds the test thread waits for one coroutine before failing (calls have their own
#: timeouts; this only keeps a broken test from hanging the run).
_RESULT_TIMEOUT = 120.0
#: Attributes of an endpoint the dispatchers read as data, never call.
_DATA_ATTRIBUTES = frozenset({"target", "filter_rule"})


class SyncApi:
    """The sync API, unchanged."""

    name = "sync"

    get_rpc_client = staticmethod(get_rpc_client)
    get_rpc_server = staticmethod(get_rpc_server)
    Notifier = Notifier
    get_notification_listener = staticmethod(get_notification_listener)
    get_batch_notification_listener = staticmethod(get_batch_notification_listener)

    def close(self) -> None:
        """Nothing to release."""


class AsyncApi:
    """The asyncio API, with an application loop in a background thread."""

    name = "async"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kit-app-loop",
                                        daemon=True)
        self._thread.start()
        self.endpoint_threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=32, thread_name_prefix="kit-endpoint")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the application loop; its result, or its exception raised here."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(_RESULT_TIMEOUT)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise
            future.cancel()
            raise AssertionError(f"coroutine still running after {_RESULT_TIMEOUT}s") from None

    def get_rpc_client(self, transport: Any, target: Any, **kwargs: Any) -> Any:
        return _Blocking(self, get_async_rpc_client(transport, target, **kwargs))

    def get_rpc_server(self, transport: Any, target: Any, endpoints: Sequence[Any],
                       executor: str | None = None, **kwargs: Any) -> Any:
        return _Server(self, get_rpc_server(transport, target, self._endpoints(endpoints),
                                            executor=_asyncio(executor), **kwargs))

    def Notifier(self, transport: Any, *args: Any, **kwargs: Any) -> Any:
        return _Blocking(self, AsyncNotifier(transport, *args, **kwargs))

    def get_notification_listener(self, transport: Any, targets: Any,
                                  endpoints: Sequence[Any], executor: str | None = None,
                                  **kwargs: Any) -> Any:
        return _Server(self, get_notification_listener(
            transport, targets, self._endpoints(endpoints), executor=_asyncio(executor),
            **kwargs))

    def get_batch_notification_listener(self, transport: Any, targets: Any,
                                        endpoints: Sequence[Any],
                                        executor: str | None = None, **kwargs: Any) -> Any:
        return _Server(self, get_batch_notification_listener(
            transport, targets, self._endpoints(endpoints), executor=_asyncio(executor),
            **kwargs))

    def _endpoints(self, endpoints: Sequence[Any]) -> list[Any]:
        return [_AsyncEndpoint(e, self.endpoint_threads) for e in endpoints]

    def close(self) -> None:
        """Stop the application loop and the endpoint threads."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        if not self._thread.is_alive():
            self.loop.close()
        self.endpoint_threads.shutdown(wait=False, cancel_futures=True)


def make_api(name: str) -> SyncApi | AsyncApi:
    """The API called ``name`` (one of :data:`API_NAMES`)."""
    if name == "sync":
        return SyncApi()
    if name == "async":
        return AsyncApi()
    raise ValueError(f"unknown API {name!r}; known: {', '.join(API_NAMES)}")


def _asyncio(executor: str | None) -> str:
    """The built-in executors become ``asyncio``; another name is kept (and refused if unknown)."""
    return "asyncio" if executor in (None, "threading", "blocking") else str(executor)


class _Blocking:
    """A sync view of an async client or notifier: each coroutine method runs on the loop."""

    def __init__(self, api: AsyncApi, target: Any) -> None:
        self._api = api
        self._target = target

    def prepare(self, *args: Any, **kwargs: Any) -> _Blocking:
        return _Blocking(self._api, self._target.prepare(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not is_async_callable(attr):
            return attr

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._api.run(attr(*args, **kwargs))
        return blocking


class _Server:
    """A server started and stopped from the application loop (``astart``/``astop``).

    ``stop`` waits for the messages in flight, as ``astop`` does; ``wait``
    is the sync one, called from the test's thread.
    """

    def __init__(self, api: AsyncApi, server: MessageHandlingServer) -> None:
        self._api = api
        self.server = server

    def start(self) -> None:
        self._api.run(self.server.astart())

    def stop(self) -> None:
        self._api.run(self.server.astop())

    def wait(self, timeout: float | None = None) -> None:
        self.server.wait(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


class _AsyncEndpoint:
    """An endpoint whose methods are ``async def``, each awaiting the original on a pool."""

    def __init__(self, endpoint: Any, threads: concurrent.futures.Executor) -> None:
        self._kit_endpoint = endpoint
        self._kit_threads = threads

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._kit_endpoint, name)
        if name in _DATA_ATTRIBUTES or not callable(attr) or is_async_callable(attr):
            return attr
        return _awaiting(attr, self._kit_threads)


def _awaiting(method: Callable[..., T], threads: concurrent.futures.Executor,
              ) -> Callable[..., Coroutine[Any, Any, T]]:
    @functools.wraps(method)
    async def coroutine(*args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            threads, functools.partial(method, *args, **kwargs))
    return coroutine
