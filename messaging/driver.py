"""The driver interface: everything a transport driver implements and may use.

A driver is a class registered under the entry point group
``messaging.drivers`` with the URL scheme as its name. The core builds it as
``DriverClass(conf, url, default_exchange=...)`` and then only calls the
methods below. Built-in drivers use nothing else from the core than this
module, :mod:`messaging.envelope` and :mod:`messaging.options`, so a third
party can write one the same way. Run :mod:`messaging.testing` (the
conformance kit) against it by URL to check it.

Rules every driver follows:

- Bodies are JSON. Never unpickle or evaluate anything received.
- ``call`` returns or raises within its ``timeout``, whatever the bus does
  (down, slow, reconnecting): :class:`~messaging.exceptions.MessagingTimeout`.
- A send that cannot reach the bus within ``retry`` attempts raises
  :class:`~messaging.exceptions.MessageDeliveryFailure`; client-library
  exceptions never cross this interface.
- A malformed message on a queue is logged, dropped (or rejected) and the
  listener keeps serving.
- ``Listener.poll`` returns promptly after ``Listener.stop``.
- ``Listener.cleanup`` gives back (requeues) messages taken but not settled,
  as an AMQP channel does when it closes.
- ``Driver.cleanup`` ends pending calls with ``MessagingTimeout``; the
  transport is not used afterwards.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

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
]

Delivery = Literal["at-most-once", "at-least-once"]


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


@dataclass(frozen=True)
class Reply:
    """The answer to a call: a result, or a failure as built by :mod:`messaging.remote`."""

    result: Any = None
    failure: Mapping[str, Any] | None = None


class IncomingMessage(abc.ABC):
    """One received message: its context, its body, and how to settle it.

    ``acknowledge``, ``requeue`` and ``reply`` are called from executor
    worker threads, so they must be thread-safe (a driver whose client is
    not hands them to its I/O thread).
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
        """Release the subscription's resources (queues it owns, connections)."""


class TestingHooks(abc.ABC):
    """Optional driver support for the conformance kit."""

    @abc.abstractmethod
    def publish_raw(self, target: Target, body: bytes) -> None:
        """Put ``body`` verbatim where a server of ``target`` would read it."""


class Driver(abc.ABC):
    """A transport driver. Subclass it, declare ``capabilities``, register an entry point.

    Constructed once per :class:`~messaging.Transport` as
    ``Driver(conf, url, default_exchange=...)``; it must be thread-safe,
    because clients call it from any thread.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str = "openstack",
                 ) -> None:
        self.conf = conf
        self.url = url
        self.default_exchange = default_exchange

    @abc.abstractmethod
    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None) -> Reply:
        """Send a request to one server of ``target`` and wait for its reply.

        Raise ``MessagingTimeout`` if no reply (or, with ``call_monitor_timeout``,
        no heartbeat) arrives in time; everything, including reconnecting,
        counts against ``timeout``.
        """

    @abc.abstractmethod
    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None) -> None:
        """Send a request without waiting for a reply (to all servers if ``target.fanout``)."""

    @abc.abstractmethod
    def notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
               version: float = 2.0, retry: int | None = None) -> None:
        """Publish a notification to ``target.topic`` (already ``<topic>.<priority>``).

        ``version`` 2.0 wraps the body in the envelope; 1.0 sends it bare.
        """

    @abc.abstractmethod
    def listen(self, target: Target) -> Listener:
        """Subscribe an RPC server: ``topic`` (shared), ``topic.server`` and the fanout."""

    @abc.abstractmethod
    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Subscribe to ``<topic>.<priority>`` for each pair; a ``pool`` shares one copy."""

    def cleanup(self) -> None:  # noqa: B027 - optional for drivers holding nothing
        """Close every connection and thread; the driver is unusable afterwards."""

    @property
    def testing(self) -> TestingHooks | None:
        """Hooks for the conformance kit, or None if the driver offers none."""
        return None
