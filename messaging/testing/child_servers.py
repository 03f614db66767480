"""The kit's subprocess-servers mode: every listener a test opens lives in a child process.

With ``--kit-servers=subprocess`` (or ``MESSAGING_KIT_SERVERS=subprocess``)
each kit test runs inside :func:`listeners_in_children`: while it runs, the
driver class of the URL under test listens through a child process. A
transport's first ``listen`` or ``listen_for_notifications`` starts a
:mod:`~messaging.testing.listener_host` process, which builds its own
driver from the same URL, configuration and exchange and subscribes there;
the test process gets a :class:`HostedListener` whose ``poll`` returns
:class:`HostedRequest` / :class:`HostedNotification` objects, and their
``acknowledge``, ``requeue``, ``reply`` and ``heartbeat`` run on the real
messages in the child. Cleaning up the transport closes its child.

Everything else stays in the test process and is unchanged: the servers
themselves (:class:`~messaging.server.MessageHandlingServer` with its
dispatcher, executor, access policy, start/stop/wait), the endpoints and
what they record, the clients and notifiers. So the kit's assertions are
the same, while each request, reply, fanout and notification crosses the
bus between two processes, the listener's side of the driver (binding,
registering, subscribing, settling, replying) runs in another process than
the sender's, and a driver whose two halves only work when they share
memory fails. It works for any driver whose bus other processes reach
(not ``fake://``, whose bus is one process's memory).

The pipe between the two carries JSON only (:mod:`messaging.testing.json_pipe`);
failures travel in :mod:`messaging.remote`'s format. A child process is
started ahead (a spare that has imported the driver already, see
:class:`_Spares`), so a test rarely waits for an interpreter to start.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from unittest import mock

import messaging

from ..driver import Driver, IncomingMessage, Listener, Reply, RpcIncomingMessage
from ..envelope import dumps
from ..remote import deserialize_exception, serialize_exception
from ..target import Target
from ..url import TransportURL
from .json_pipe import JsonPipe, PipeClosed
from .listener_host import driver_class, target_to_data

__all__ = ["HostGone", "HostedListener", "HostedNotification", "HostedRequest",
           "IN_PROCESS_SCHEMES", "ListenerHostProcess", "listeners_in_children"]

LOG = logging.getLogger(__name__)
#: Seconds a request other than a blocking poll may take before the child counts as hung.
OP_TIMEOUT = 60.0
#: Seconds a child may take to clean up and exit before it is killed.
CLOSE_TIMEOUT = 30.0
#: Drivers whose bus is the memory of one process: the mode refuses them.
IN_PROCESS_SCHEMES = frozenset({"fake"})


class HostGone(RuntimeError):
    """The listener host process exited, or stopped answering."""


def _package_root() -> str:
    """The directory the running ``messaging`` package was imported from."""
    return os.path.dirname(os.path.dirname(os.path.abspath(messaging.__file__)))


class ListenerHostProcess:
    """One :mod:`~messaging.testing.listener_host` child and the requests waiting for it."""

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        mine, theirs = socket.socketpair()
        root = _package_root()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [root, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
        try:
            # cwd is the package's own directory, so ``-m`` finds the same messaging.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "messaging.testing.listener_host",
                 str(theirs.fileno()), scheme],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, cwd=root, env=env)
        finally:
            theirs.close()
        self.pid = self.proc.pid
        self._pipe = JsonPipe(mine)
        self._pending: dict[int, Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._gone: str | None = None
        self._reader = threading.Thread(target=self._read, name=f"kit-host-{self.pid}",
                                        daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """True until the child exited or its pipe broke."""
        return self._gone is None and self.proc.poll() is None

    def request(self, op: str, wait: float | None = OP_TIMEOUT, **args: Any) -> Any:
        """Ask the child for ``op(**args)`` and return its result (or raise its failure).

        Raises :class:`HostGone` if the child is gone or gives no answer within ``wait``
        seconds (None: wait as long as it takes, for a poll without timeout).
        """
        future: Future[Any] = Future()
        with self._lock:
            if self._gone is not None:
                raise HostGone(self._gone)
            rid = next(self._ids)
            self._pending[rid] = future
        try:
            self._pipe.send({"id": rid, "op": op, "args": args})
        except PipeClosed as exc:
            self._pending.pop(rid, None)
            self._reader.join(CLOSE_TIMEOUT)  # it says how the child ended
            raise HostGone(self._gone or f"listener host {self.pid}: {exc}") from None
        try:
            return future.result(wait)
        except FutureTimeout:
            self._pending.pop(rid, None)
            raise HostGone(f"listener host {self.pid} did not answer {op} within {wait}s"
                           ) from None

    def _read(self) -> None:
        while True:
            try:
                message = self._pipe.receive()
            except PipeClosed:
                break
            if "log" in message:
                self._relog(message["log"])
                continue
            future = self._pending.pop(message.get("id"), None)
            if future is None:
                continue
            if "error" in message:
                future.set_exception(deserialize_exception(message["error"]))
            else:
                future.set_result(message.get("result"))
        try:
            code: int | None = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        with self._lock:
            self._gone = (f"listener host {self.pid} exited" +
                          (f" with status {code}" if code is not None else ""))
            pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            future.set_exception(HostGone(self._gone))

    def _relog(self, record: Mapping[str, Any]) -> None:
        """Re-emit a child's log record here, on the logger of the same name."""
        logger = logging.getLogger(str(record.get("name")))
        level = int(record.get("level", logging.WARNING))
        if logger.isEnabledFor(level):
            logger.handle(logging.makeLogRecord({
                "name": logger.name, "levelno": level, "levelname": logging.getLevelName(level),
                "msg": f"{record.get('message')} [listener host {self.pid}]", "args": (),
                "threadName": record.get("thread")}))

    def close(self) -> None:
        """Ask the child to clean up and exit; kill it if it does not in time."""
        if self.alive:
            with contextlib.suppress(Exception):
                self.request("close", wait=CLOSE_TIMEOUT)
        self._pipe.close()
        try:
            self.proc.wait(CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            LOG.warning("Listener host %d did not exit; killing it", self.pid)
            self.proc.kill()
            self.proc.wait()


class _Spares:
    """One idle child per driver scheme, started ahead so that a test need not wait for it.

    A spare is started when a test that used children ends, not when one
    is taken: a child importing its driver takes a core for a moment, and
    that moment must not fall in the middle of a test (where it would, in
    the same place every run).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[str, ListenerHostProcess] = {}

    def take(self, scheme: str) -> ListenerHostProcess:
        """A fresh child for ``scheme``: the spare if there is a live one, else a new one."""
        with self._lock:
            spare = self._idle.pop(scheme, None)
        if spare is not None and spare.alive:
            return spare
        if spare is not None:
            spare.close()
        return ListenerHostProcess(scheme)

    def replenish(self, scheme: str) -> None:
        """Start a spare for ``scheme`` if there is none."""
        with self._lock:
            if scheme not in self._idle:
                self._idle[scheme] = ListenerHostProcess(scheme)

    def close(self) -> None:
        """Stop the spares."""
        with self._lock:
            idle, self._idle = list(self._idle.values()), {}
        for spare in idle:
            spare.close()


SPARES = _Spares()
atexit.register(SPARES.close)


# -- what the test process's servers see ---------------------------------------------------


class _Hosted:
    """What the hosted message types share: settling through the child."""

    ctxt: dict[str, Any]
    message: dict[str, Any]

    def _setup(self, host: ListenerHostProcess, item: Mapping[str, Any]) -> None:
        self._host = host
        self._id = int(item["id"])
        self.unique_id: str | None = item.get("unique_id")

    def acknowledge(self) -> None:
        """Acknowledge the message in the child."""
        self._host.request("acknowledge", message=self._id)

    def requeue(self) -> None:
        """Give the message back, in the child."""
        self._host.request("requeue", message=self._id)


class HostedRequest(_Hosted, RpcIncomingMessage):
    """An RPC request received in a child process."""

    def __init__(self, host: ListenerHostProcess, item: Mapping[str, Any]) -> None:
        RpcIncomingMessage.__init__(self, item["ctxt"], item["message"])
        self._setup(host, item)
        self._wants_reply = bool(item.get("wants_reply"))
        self.client_timeout = item.get("client_timeout")

    @property
    def wants_reply(self) -> bool:
        return self._wants_reply

    def reply(self, reply: Reply) -> None:
        """Send the answer from the child; never raises (as a driver's reply)."""
        result, failure = reply.result, reply.failure
        try:
            dumps(result)
        except (TypeError, ValueError) as exc:  # what the envelope does with such a result
            result, failure = None, serialize_exception(exc)
        try:
            self._host.request("reply", message=self._id, result=result, failure=failure)
        except Exception:
            LOG.exception("Could not send a reply through listener host %d", self._host.pid)

    def heartbeat(self) -> None:
        """Send a call-monitor heartbeat from the child; never raises."""
        try:
            self._host.request("heartbeat", message=self._id)
        except Exception:
            LOG.exception("Could not send a heartbeat through listener host %d",
                          self._host.pid)


class HostedNotification(_Hosted, IncomingMessage):
    """A notification received in a child process."""

    def __init__(self, host: ListenerHostProcess, item: Mapping[str, Any]) -> None:
        IncomingMessage.__init__(self, item["ctxt"], item["message"])
        self._setup(host, item)


class HostedListener(Listener):
    """A listener living in a child process."""

    def __init__(self, host: ListenerHostProcess, lid: int, what: str) -> None:
        self._host = host
        self._lid = lid
        self.what = what

    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """The child's ``poll``; raises :class:`HostGone` if the child is gone."""
        items = self._host.request("poll", wait=None if timeout is None else timeout + OP_TIMEOUT,
                                   listener=self._lid, timeout=timeout,
                                   max_messages=max_messages)
        return [HostedRequest(self._host, item) if item.get("rpc")
                else HostedNotification(self._host, item) for item in items]

    def stop(self) -> None:
        """Stop the child's listener (nothing to stop if the child is gone)."""
        with contextlib.suppress(HostGone):
            self._host.request("stop", listener=self._lid)

    def cleanup(self) -> None:
        """Clean up the child's listener (nothing to do if the child is gone)."""
        with contextlib.suppress(HostGone):
            self._host.request("cleanup", listener=self._lid)

    def _state(self) -> dict[str, Any]:
        try:
            return dict(self._host.request("state", listener=self._lid))
        except (HostGone, LookupError) as exc:
            return {"consuming": False, "last_error": str(exc)}

    @property
    def consuming(self) -> bool:
        return bool(self._state()["consuming"])

    @property
    def last_error(self) -> str | None:
        error = self._state()["last_error"]
        return None if error is None else str(error)


# -- the mode ------------------------------------------------------------------------------


def _conf_data(conf: Any) -> Any:
    """The driver's configuration as JSON data for the child (None or a plain mapping)."""
    if conf is None:
        return None
    if isinstance(conf, Mapping):
        try:
            return json.loads(dumps(conf))
        except (TypeError, ValueError) as exc:
            raise RuntimeError(f"the kit's subprocess-servers mode cannot hand this "
                               f"configuration to a child process: {exc}") from None
    raise RuntimeError(f"the kit's subprocess-servers mode hands the driver's configuration "
                       f"to a child process as JSON: give the transport None or a dict, "
                       f"not a {type(conf).__name__}")


class _Mode:
    """The child processes of the drivers of one class, while a test runs."""

    def __init__(self, cls: type[Driver], scheme: str) -> None:
        self.cls = cls
        self.scheme = scheme
        self._lock = threading.Lock()
        self._hosts: dict[int, tuple[Driver, ListenerHostProcess]] = {}
        self.used = False

    def host(self, driver: Driver) -> ListenerHostProcess:
        """The child of ``driver``, started (and told how to build its driver) on first use."""
        with self._lock:
            found = self._hosts.get(id(driver))
            if found is not None:
                return found[1]
            host = SPARES.take(self.scheme)
            self.used = True
            self._hosts[id(driver)] = (driver, host)
        try:
            host.request("init", scheme=self.scheme, url=str(driver.url),
                         conf=_conf_data(driver.conf), default_exchange=driver.default_exchange,
                         log_level=logging.getLogger().getEffectiveLevel())
        except BaseException:
            self.forget(driver)
            host.close()
            raise
        return host

    def forget(self, driver: Driver) -> ListenerHostProcess | None:
        with self._lock:
            found = self._hosts.pop(id(driver), None)
        return found[1] if found is not None else None

    def close_all(self) -> None:
        """Close the children of drivers the test did not clean up."""
        with self._lock:
            hosts, self._hosts = [h for _d, h in self._hosts.values()], {}
        for host in hosts:
            host.close()
        if self.used:
            SPARES.replenish(self.scheme)


def listeners_in_children(url: str) -> contextlib.AbstractContextManager[None]:
    """While active, every driver of ``url``'s class listens through a child process.

    Raises ``ValueError`` for a driver whose bus other processes cannot reach.
    """
    scheme = TransportURL.parse(url).scheme
    if scheme in IN_PROCESS_SCHEMES:
        raise ValueError(f"{scheme}:// keeps its bus in the memory of one process: the kit's "
                         f"subprocess-servers mode cannot run it")
    return _patched(_Mode(driver_class(scheme), scheme))


@contextlib.contextmanager
def _patched(mode: _Mode) -> Iterator[None]:
    original_cleanup = mode.cls.cleanup

    def listen(driver: Driver, target: Target) -> Listener:
        host = mode.host(driver)
        lid = host.request("listen", target=target_to_data(target))
        return HostedListener(host, int(lid), f"RPC server {target.topic}.{target.server}")

    def listen_for_notifications(driver: Driver,
                                 targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        host = mode.host(driver)
        lid = host.request("listen_for_notifications", pool=pool, pairs=[
            [target_to_data(t), p] for t, p in targets_and_priorities])
        return HostedListener(host, int(lid), "notification listener")

    def cleanup(driver: Driver) -> None:
        host = mode.forget(driver)
        if host is not None:
            host.close()
        original_cleanup(driver)

    try:
        with mock.patch.object(mode.cls, "listen", listen), \
                mock.patch.object(mode.cls, "listen_for_notifications", listen_for_notifications), \
                mock.patch.object(mode.cls, "cleanup", cleanup):
            yield
    finally:
        mode.close_all()
