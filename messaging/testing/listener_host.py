"""A child process holding a driver's listeners for the kit's subprocess-servers mode.

Started by :mod:`messaging.testing.child_servers` as
``python -m messaging.testing.listener_host FD SCHEME``: ``FD`` is its end
of a socket pair to the test process, ``SCHEME`` the driver it imports while
it waits. The test process then sends JSON requests (see
:mod:`messaging.testing.json_pipe`): ``init`` builds the driver from the
same URL, configuration and exchange as the test's own, ``listen`` and
``listen_for_notifications`` subscribe here, in this process, and ``poll``,
``acknowledge``, ``reply``... run on the listeners and the messages they
gave out. So every message a test's server handles crosses the bus between
two processes, and its reply leaves from this one.

Each request runs on a worker thread (a ``poll`` may block until ``stop``),
and each answer carries the request's id. A failure travels as
:func:`messaging.remote.serialize_exception` data. Log records at the level
the test process asked for are sent back to it, so its log shows what
happened here. When the pipe closes (the test process ended or closed it)
every listener is cleaned up, the driver too, and the process exits.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..driver import Driver, IncomingMessage, Listener, Reply, RpcIncomingMessage
from ..remote import serialize_exception
from ..target import Target
from ..transport import installed_drivers
from ..url import TransportURL
from .json_pipe import JsonPipe, PipeClosed

__all__ = ["driver_class", "main", "target_from_data", "target_to_data"]

LOG = logging.getLogger(__name__)
#: Requests served at once (polls block; the rest are short).
_WORKERS = 64
_TARGET_FIELDS = ("exchange", "topic", "namespace", "version", "server", "fanout",
                  "legacy_namespaces")


def driver_class(scheme: str) -> type[Driver]:
    """The driver class installed for ``scheme`` (entry point group ``messaging.drivers``)."""
    for info in installed_drivers():
        if info.scheme == scheme:
            return info.load()
    raise LookupError(f"no driver is installed for scheme {scheme!r}")


def target_to_data(target: Target) -> dict[str, Any]:
    """A Target as JSON data."""
    return {name: getattr(target, name) for name in _TARGET_FIELDS}


def target_from_data(data: dict[str, Any]) -> Target:
    """Inverse of :func:`target_to_data`."""
    return Target(**{name: data.get(name) for name in _TARGET_FIELDS})


class _Held:
    """A message given to the test process and not finished with yet."""

    __slots__ = ("listener", "message", "replied", "settled")

    def __init__(self, listener: int, message: IncomingMessage) -> None:
        self.listener = listener
        self.message = message
        self.settled = False
        self.replied = False

    @property
    def finished(self) -> bool:
        """Settled, and answered if it is a call: nothing more can be asked of it."""
        wants_reply = isinstance(self.message, RpcIncomingMessage) and self.message.wants_reply
        return self.settled and (self.replied or not wants_reply)


class _LogsToParent(logging.Handler):
    """Sends this process's log records to the test process."""

    def __init__(self, pipe: JsonPipe, level: int) -> None:
        super().__init__(level)
        self._pipe = pipe

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self._pipe.send({"log": {"name": record.name, "level": record.levelno,
                                     "message": text, "thread": record.threadName}})
        except Exception:  # never let logging break a listener (a closed pipe at exit)
            pass


class ListenerHost:
    """Serves the requests of one test-process driver on a driver of its own."""

    def __init__(self, pipe: JsonPipe) -> None:
        self._pipe = pipe
        self._driver: Driver | None = None
        self._listeners: dict[int, Listener] = {}
        self._messages: dict[int, _Held] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._workers = ThreadPoolExecutor(max_workers=_WORKERS,
                                           thread_name_prefix="listener-host")
        self._ops: dict[str, Callable[..., Any]] = {
            "init": self._init, "listen": self._listen,
            "listen_for_notifications": self._listen_for_notifications,
            "poll": self._poll, "stop": self._stop, "cleanup": self._cleanup,
            "state": self._state, "acknowledge": self._acknowledge, "requeue": self._requeue,
            "reply": self._reply, "heartbeat": self._heartbeat, "close": self._close,
        }

    def serve(self) -> None:
        """Answer requests until the pipe closes or ``close`` is asked; then clean up."""
        try:
            while True:
                try:
                    request = self._pipe.receive()
                except PipeClosed:
                    break
                if request.get("op") == "close":
                    self._answer(request)
                    break
                self._workers.submit(self._answer, request)
        finally:
            self._close()
            self._workers.shutdown(wait=False, cancel_futures=True)

    def _answer(self, request: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"id": request.get("id")}
        try:
            op = self._ops.get(str(request.get("op")))
            if op is None:
                raise ValueError(f"unknown request {request.get('op')!r}")
            answer["result"] = op(**(request.get("args") or {}))
        except Exception as exc:
            answer["error"] = serialize_exception(exc)
        try:
            self._pipe.send(answer)
        except PipeClosed:
            pass

    # -- the driver and its listeners ---------------------------------------------------

    @property
    def driver(self) -> Driver:
        if self._driver is None:
            raise RuntimeError("the listener host has no driver yet (no init request)")
        return self._driver

    def _init(self, scheme: str, url: str, conf: Any, default_exchange: str,
              log_level: int) -> int:
        handler = _LogsToParent(self._pipe, log_level)
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(log_level)
        cls = driver_class(scheme)
        self._driver = cls(conf, TransportURL.parse(conf, url), default_exchange=default_exchange)
        return os.getpid()

    def _add(self, listener: Listener) -> int:
        with self._lock:
            lid = next(self._ids)
            self._listeners[lid] = listener
        return lid

    def _listener(self, lid: int) -> Listener:
        listener = self._listeners.get(lid)
        if listener is None:
            raise LookupError(f"listener {lid} was cleaned up")
        return listener

    def _listen(self, target: dict[str, Any]) -> int:
        return self._add(self.driver.listen(target_from_data(target)))

    def _listen_for_notifications(self, pairs: Sequence[tuple[dict[str, Any], str]],
                                  pool: str | None) -> int:
        return self._add(self.driver.listen_for_notifications(
            [(target_from_data(t), str(p)) for t, p in pairs], pool))

    def _poll(self, listener: int, timeout: float | None, max_messages: int,
              ) -> list[dict[str, Any]]:
        out = []
        for message in self._listener(listener).poll(timeout=timeout, max_messages=max_messages):
            with self._lock:
                mid = next(self._ids)
                self._messages[mid] = _Held(listener, message)
            item: dict[str, Any] = {"id": mid, "ctxt": message.ctxt, "message": message.message,
                                    "unique_id": getattr(message, "unique_id", None),
                                    "rpc": isinstance(message, RpcIncomingMessage)}
            if isinstance(message, RpcIncomingMessage):
                item["wants_reply"] = message.wants_reply
                item["client_timeout"] = message.client_timeout
            out.append(item)
        return out

    def _stop(self, listener: int) -> None:
        self._listener(listener).stop()

    def _cleanup(self, listener: int) -> None:
        with self._lock:
            found = self._listeners.pop(listener, None)
        if found is None:
            return
        try:
            found.cleanup()
        finally:
            with self._lock:
                for mid in [m for m, held in self._messages.items()
                            if held.listener == listener]:
                    del self._messages[mid]

    def _state(self, listener: int) -> dict[str, Any]:
        found = self._listener(listener)
        return {"consuming": bool(found.consuming), "last_error": found.last_error}

    # -- the messages given out ---------------------------------------------------------

    def _held(self, mid: int) -> _Held | None:
        held = self._messages.get(mid)
        if held is None:
            LOG.debug("Message %d is no longer held (finished, or its listener was cleaned up)",
                      mid)
        return held

    def _done_with(self, mid: int, held: _Held) -> None:
        if held.finished:
            with self._lock:
                self._messages.pop(mid, None)

    def _settle(self, mid: int, requeue: bool) -> None:
        held = self._held(mid)
        if held is None:
            return
        if requeue:
            held.message.requeue()
        else:
            held.message.acknowledge()
        held.settled = True
        self._done_with(mid, held)

    def _acknowledge(self, message: int) -> None:
        self._settle(message, requeue=False)

    def _requeue(self, message: int) -> None:
        self._settle(message, requeue=True)

    def _reply(self, message: int, result: Any, failure: dict[str, Any] | None) -> None:
        held = self._held(message)
        if held is None or not isinstance(held.message, RpcIncomingMessage):
            return
        held.message.reply(Reply(result=result, failure=failure))
        held.replied = True
        self._done_with(message, held)

    def _heartbeat(self, message: int) -> None:
        held = self._held(message)
        if held is not None and isinstance(held.message, RpcIncomingMessage):
            held.message.heartbeat()

    def _close(self) -> None:
        """Clean up every listener, then the driver (idempotent)."""
        with self._lock:
            listeners, self._listeners = list(self._listeners.values()), {}
            self._messages.clear()
            driver, self._driver = self._driver, None
        for listener in listeners:
            try:
                listener.cleanup()
            except Exception:
                LOG.exception("Error cleaning up a listener")
        if driver is not None:
            try:
                driver.cleanup()
                Driver.cleanup(driver)  # as Transport.cleanup does
            except Exception:
                LOG.exception("Error cleaning up the driver")


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the test process on the socket ``argv[0]`` names, for a driver of ``argv[1]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m messaging.testing.listener_host FD SCHEME\n")
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the test process's to handle
    pipe = JsonPipe(socket.socket(fileno=int(args[0])))
    try:
        driver_class(args[1])  # import it now, while the test process does not wait
    except Exception:
        pass  # init reports it
    ListenerHost(pipe).serve()
    pipe.close()
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main())  # the driver's non-daemon threads, if any, were cleaned up already
