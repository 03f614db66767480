"""The driver interface: everything a transport driver implements and may use.

A driver is a class registered under the entry point group
``messaging.drivers`` with the URL scheme as its name. The core builds it as
``DriverClass(conf, url, default_exchange=...)`` and then only calls the
methods below. A driver implements each verb either synchronously
(``call``, ``cast``, ``notify``) or as a future (``submit_call``,
``submit_cast``, ``submit_notify``); the base class derives the other form.
Run :mod:`messaging.testing` (the conformance kit) against it by URL to
check it: every rule below is a kit test.

Rules every driver follows:

- Bodies are JSON. Never unpickle or evaluate anything received. (The core
  checks that a message is JSON-serializable before it reaches a driver.)
- ``call`` returns or raises within its ``timeout``, whatever the bus does
  (down, slow, reconnecting): :class:`~messaging.exceptions.MessagingTimeout`.
  A call's future ends by itself at its deadline.
- Every send ends in bounded time: one that cannot reach the bus within
  ``retry`` attempts, or within the driver's send timeout (a blocked or
  unreachable broker), raises
  :class:`~messaging.exceptions.MessageDeliveryFailure`. Client-library
  exceptions never cross this interface.
- A malformed message on a queue is logged, dropped (or rejected) and the
  listener keeps serving.
- ``listen`` returns promptly even while the bus is unreachable; the
  listener connects in the background (``Listener.consuming`` says when).
- ``Listener.poll`` returns promptly after ``Listener.stop``.
- ``Listener.cleanup`` gives back (requeues) messages taken but not settled,
  as an AMQP channel does when it closes.
- A message is settled once; ids are remembered for de-duplication only
  when a message is acknowledged, never when it arrives.
- ``Driver.cleanup`` ends pending calls at once with ``MessagingTimeout``;
  the transport is not used afterwards.

Drivers should not re-write the shared parts: :mod:`messaging.correlation`
(calls waiting for replies, as futures), :mod:`messaging.settlement`
(settle once, de-duplicate after settling, give back at cleanup),
:mod:`messaging.incoming` (received requests and notifications),
:mod:`messaging.addressing` (exchange and routing-key rule),
:mod:`messaging.envelope` (oslo.messaging's wire format),
:mod:`messaging.options` (option tables) and :mod:`messaging.health` (report
connection events through ``self.monitor``).
"""

from __future__ import annotations

import abc
import concurrent.futures
import contextlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from .exceptions import MessageDeliveryFailure, MessagingTimeout, SerializationError
from .executors import StartedThreadPool
from .health import DriverMonitor
from .target import Target
from .url import TransportURL

__all__ = [
    "Capabilities",
    "Delivery",
    "Driver",
    "IncomingMessage",
    "Listener",
    "Reply",
    "RpcIncomingMessage",
    "TestingHooks",
    "unserializable",
    "wait_future",
]

#: A delivery guarantee: a message is handled at most once, or at least once.
Delivery = Literal["at-most-once", "at-least-once"]
T = TypeVar("T")


@dataclass(frozen=True)
class Capabilities:
    """What a driver offers, as data; the core and the conformance kit read it.

    :param fanout: a cast with ``fanout=True`` reaches every server of a topic.
    :param competing_consumers: servers of one topic share its messages.
    :param requeue: a notification listener can give a message back for
        redelivery (RPC requests are settled before dispatch and never requeued).
    :param durable_notifications: notifications sent before any listener
        exists are kept until one consumes them.
    :param call_monitor: servers send heartbeats while a call runs
        (``call_monitor_timeout``).
    :param pools: notification listener pools get separate copies.
    :param rpc_delivery: guarantee for RPC requests.
    :param notification_delivery: guarantee for notifications.
    :param publisher_confirms: casts and notifications are confirmed by the bus.
    :param brokered: messages pass through a broker that can be down or
        unreachable (the kit then checks the driver's behaviour when it is).
    :param mandatory: the driver can tell when no queue takes a request. It
        then accepts a keyword ``mandatory: bool = False`` on ``call``,
        ``cast``, ``submit_call`` and ``submit_cast`` (all four: the base
        class's derived forms do not pass it on), and with ``mandatory=True``
        fails at once with ``MessageUndeliverable`` instead of dropping an
        unroutable request. The transport passes it only when a client asked
        (``TransportOptions(at_least_once=True)``, fanout excepted as in
        oslo.messaging), and raises ``NotSupported`` itself for a driver
        without this capability.
    :param counts_listeners: a call that times out says whether any server
        listened on its target: "no server is listening" or "the server never
        answered" (the driver gives its reply correlator ``listeners``).
    """

    fanout: bool = True
    competing_consumers: bool = True
    requeue: bool = True
    durable_notifications: bool = False
    call_monitor: bool = True
    pools: bool = True
    rpc_delivery: Delivery = "at-most-once"
    notification_delivery: Delivery = "at-least-once"
    publisher_confirms: bool = False
    brokered: bool = True
    mandatory: bool = False
    counts_listeners: bool = False


@dataclass(frozen=True)
class Reply:
    """The answer to a call: a result, or a failure as built by :mod:`messaging.remote`."""

    result: Any = None
    failure: Mapping[str, Any] | None = None


class IncomingMessage(abc.ABC):
    """One received message: its context, its body, and how to settle it.

    ``acknowledge``, ``requeue`` and ``reply`` are called from executor
    worker threads, so they must be thread-safe (a driver whose client is
    not hands them to its I/O thread). Only the first settlement counts.
    """

    def __init__(self, ctxt: dict[str, Any], message: dict[str, Any]) -> None:
        self.ctxt = ctxt
        self.message = message

    @abc.abstractmethod
    def acknowledge(self) -> None:
        """Tell the bus the message is done; it will not be delivered again."""

    @abc.abstractmethod
    def requeue(self) -> None:
        """Give the message back for redelivery (only if ``capabilities.requeue``)."""


class RpcIncomingMessage(IncomingMessage):
    """An RPC request. ``reply`` answers a call and does nothing for a cast."""

    #: The caller's ``call_monitor_timeout`` (seconds) or None.
    client_timeout: float | None = None

    @property
    @abc.abstractmethod
    def wants_reply(self) -> bool:
        """True for a call, False for a cast."""

    @abc.abstractmethod
    def reply(self, reply: Reply) -> None:
        """Send the final answer of a call. Must not raise: log what fails."""

    def heartbeat(self) -> None:
        """Tell the caller the call is still running (call monitoring)."""


class Listener(abc.ABC):
    """Messages arriving for one subscription, pulled by the server loop."""

    @abc.abstractmethod
    def poll(self, timeout: float | None = None, max_messages: int = 1,
             ) -> list[IncomingMessage]:
        """Wait up to ``timeout`` seconds (None: until stopped) for messages.

        Returns up to ``max_messages`` messages, or an empty list when the
        timeout passed or the listener was stopped.
        """

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop taking new messages; a blocked ``poll`` returns at once. Thread-safe."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Release the subscription: give back unsettled messages, drop owned queues, close."""

    @property
    def consuming(self) -> bool:
        """True while the subscription is established on the bus (False while reconnecting)."""
        return True

    @property
    def last_error(self) -> str | None:
        """Why the listener is not consuming, if it knows (never contains a password)."""
        return None


class TestingHooks(abc.ABC):
    """Driver support for the conformance kit (``Driver.testing``)."""

    @abc.abstractmethod
    def publish_raw(self, target: Target, body: bytes) -> None:
        """Put ``body`` verbatim where a server of ``target`` would read it.

        The queue is created if missing, so the bytes wait for a server.
        """

    def publish_raw_notification(self, target: Target, body: bytes) -> None:
        """Put ``body`` verbatim where listeners of ``target.topic`` (``<topic>.<priority>``) read.

        Optional: the kit skips the tests needing it when this raises NotImplementedError.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot publish raw notifications")

    def unreachable_url(self) -> str | None:
        """A URL of this driver whose bus cannot be reached, with short send bounds.

        The kit uses it to check that every verb ends in bounded time while
        the bus is down. None for drivers without a bus to lose.
        """
        return None


_VERB_PAIRS = (("call", "submit_call"), ("cast", "submit_cast"), ("notify", "submit_notify"))


class Driver(abc.ABC):
    """A transport driver. Subclass it, declare ``capabilities``, register an entry point.

    Constructed once per :class:`~messaging.Transport` as
    ``Driver(conf, url, default_exchange=...)``; it must be thread-safe,
    because clients call it from any thread. Implement each verb in one of
    its two forms: ``call`` or ``submit_call``, ``cast`` or ``submit_cast``,
    ``notify`` or ``submit_notify``. A synchronous verb left out waits on
    its future; a future left out runs the synchronous verb on a bounded
    pool of :attr:`submit_workers` threads.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    #: The distribution name of the client library the driver is built on (e.g. "kombu"),
    #: shown with its version by ``messaging drivers``; None for none.
    client_library: ClassVar[str | None] = None
    #: Threads of the pool that runs synchronous verbs for the default ``submit_*``.
    submit_workers: ClassVar[int] = 16
    #: Extra seconds the default ``call`` waits on its future beyond the call's own
    #: timeout before concluding the driver broke the rule that futures end by themselves.
    call_grace: ClassVar[float] = 5.0
    #: True if the driver encodes every request and notification (call, cast, notify, in
    #: both forms) before it sends or registers anything, and raises
    #: :class:`~messaging.exceptions.SerializationError` (see :func:`unserializable`) for
    #: one JSON cannot carry. The transport then leaves that check to it instead of
    #: encoding each message once more just to check it.
    checks_json: ClassVar[bool] = False
    #: ``messaging.system`` of the driver's spans (OpenTelemetry's name for the bus,
    #: e.g. "rabbitmq"); None: the URL scheme.
    messaging_system: ClassVar[str | None] = None

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        cls = type(self)
        missing = [f"{sync} or {fut}" for sync, fut in _VERB_PAIRS
                   if getattr(cls, sync) is getattr(Driver, sync)
                   and getattr(cls, fut) is getattr(Driver, fut)]
        if missing:
            raise TypeError(f"driver {cls.__module__}.{cls.__qualname__} must implement "
                            f"{'; '.join(missing)}")
        self.conf = conf
        self.url = url
        self.default_exchange = default_exchange
        #: Where the driver reports its connections' events (:mod:`messaging.health`):
        #: ``self.monitor.connected(conn)``, ``lost(conn, error)``, ``blocked(conn, reason)``...
        self.monitor = DriverMonitor()
        self._submit_pool = StartedThreadPool(self.submit_workers,
                                              f"messaging-{url.scheme}-submit")

    # -- synchronous verbs (default: wait on the future) ---------------------------

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None) -> Reply:
        """Send a request to one server of ``target`` and wait for its reply.

        Raise ``MessagingTimeout`` if no reply (or, with ``call_monitor_timeout``,
        no heartbeat) arrives in time; everything, including reconnecting,
        counts against ``timeout``.
        """
        future = self.submit_call(target, ctxt, message, timeout=timeout,
                                  call_monitor_timeout=call_monitor_timeout, retry=retry)
        return wait_future(future, timeout + self.call_grace,
                           f"reply to a call to {target} not delivered in time")

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        """Send a request without waiting for a reply (to all servers if ``target.fanout``).

        Returns once the bus took the message (confirmed, for drivers that
        declare ``publisher_confirms``).
        """
        self.submit_cast(target, ctxt, message, retry=retry).result()

    def notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
               version: float = 2.0, retry: int | None = None) -> None:
        """Publish a notification to ``target.topic`` (already ``<topic>.<priority>``).

        ``version`` 2.0 wraps the body in the envelope; 1.0 sends it bare.
        """
        self.submit_notify(target, ctxt, message, version=version, retry=retry).result()

    # -- future verbs (default: the synchronous verb on a bounded pool) -----------

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None) -> Future[Reply]:
        """Like :meth:`call`, returning a future of the :class:`Reply`.

        The future ends by itself (with ``MessagingTimeout`` at the latest at
        the deadline); cancelling it abandons the call, and a late reply is
        dropped.
        """
        return self._run_in_pool(lambda: self.call(
            target, ctxt, message, timeout=timeout, call_monitor_timeout=call_monitor_timeout,
            retry=retry), MessagingTimeout)

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None) -> Future[None]:
        """Like :meth:`cast`, returning a future that completes once the bus took the message."""
        return self._run_in_pool(lambda: self.cast(target, ctxt, message, retry=retry),
                                 MessageDeliveryFailure)

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                      *, version: float = 2.0, retry: int | None = None) -> Future[None]:
        """Like :meth:`notify`, returning a future that completes once the bus took it."""
        return self._run_in_pool(lambda: self.notify(target, ctxt, message, version=version,
                                                     retry=retry), MessageDeliveryFailure)

    def offload(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn``, a blocking step of a verb, on the driver's pool; return its future.

        For a driver whose future verbs are native but whose client library
        blocks (a write that may wait for a lock or a socket): ``submit_*``
        hands that step here and returns at once, so it never waits on the
        caller's event loop. The pool is the one behind the default
        ``submit_*`` (:attr:`submit_workers` threads). A step the pool never
        ran, because the driver was cleaned up first, ends its future with
        ``MessageDeliveryFailure``.
        """
        return self._run_in_pool(fn, MessageDeliveryFailure)

    def _run_in_pool(self, fn: Callable[[], T], unsent: Callable[[str], Exception],
                     ) -> Future[T]:
        """Run a synchronous verb on the pool; the returned future gets its outcome.

        Cancelling the returned future abandons the outcome, not the verb:
        a submitted request is sent, as with drivers whose futures are native.
        A verb the pool never ran (the driver was cleaned up first) ends its
        future with ``unsent(reason)``.
        """
        work = self._submit_pool.get().submit(fn)
        outcome: Future[T] = Future()

        def forward(done: Future[T]) -> None:
            with contextlib.suppress(InvalidStateError):  # cancelled: nobody wants it
                if done.cancelled():
                    outcome.set_exception(unsent("the transport was cleaned up first"))
                elif (error := done.exception()) is not None:
                    outcome.set_exception(error)
                else:
                    outcome.set_result(done.result())

        work.add_done_callback(forward)
        return outcome

    # -- receiving and lifecycle ---------------------------------------------------

    @abc.abstractmethod
    def listen(self, target: Target) -> Listener:
        """Subscribe an RPC server: ``topic`` (shared), ``topic.server`` and the fanout.

        Returns promptly: while the bus is unreachable the listener keeps
        trying in the background. Raises ``ServerListenError`` only when the
        bus refused the subscription itself (e.g. conflicting queue arguments).
        """

    @abc.abstractmethod
    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Subscribe to ``<topic>.<priority>`` for each pair; a ``pool`` shares one copy."""

    def cleanup(self) -> None:
        """Close every connection and thread; the driver is unusable afterwards.

        Pending calls end at once with ``MessagingTimeout``. Subclasses call
        ``super().cleanup()`` (it stops the pool behind the default ``submit_*``).
        """
        self._submit_pool.shutdown(wait=False, cancel_futures=True)

    @property
    def testing(self) -> TestingHooks | None:
        """Hooks for the conformance kit, or None if the driver offers none."""
        return None


def unserializable(target: Target, message: Mapping[str, Any],
                   exc: BaseException) -> SerializationError:
    """The error for a message JSON cannot carry (raised before anything is sent)."""
    return SerializationError(f"Cannot send {message.get('method') or 'the message'} "
                              f"to {target}: {exc}")


def wait_future(future: Future[T], timeout: float | None, overdue: str) -> T:
    """``future.result(timeout)``, turning an overrun into ``MessagingTimeout(overdue)``.

    For code that waits on a driver's future: futures end by themselves, so
    an overrun means a broken driver; the caller still gets the documented
    error instead of hanging, and the future is cancelled.
    """
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        if future.done():  # the future itself ended with a timeout error
            raise
        future.cancel()
        raise MessagingTimeout(overdue) from None
    except concurrent.futures.CancelledError:
        raise MessagingTimeout(f"{overdue}: cancelled") from None
