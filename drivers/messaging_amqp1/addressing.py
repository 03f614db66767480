"""Address profiles: where each kind of message goes on an AMQP 1.0 peer.

AMQP 1.0 leaves addresses to the broker, so the driver carries two
profiles and picks one per connection from what the peer announces in its
``open`` frame (or the ``addressing_mode`` option forces one). Names follow
:mod:`messaging.addressing` (exchange, ``topic``, ``topic.server``,
``topic_fanout``, ``topic.priority``) in both.

**RabbitMQ** (3.x with the ``rabbitmq_amqp1_0`` plugin; tested for real).
The plugin has no dynamic nodes and no anonymous relay (either ends the
whole session), cannot declare exchanges or bind named queues, and names
the virtual host in ``open.hostname`` as ``vhost:NAME``. So:

==========================  ===========================================  =================
what                        link address                                 message subject
==========================  ===========================================  =================
RPC topic / server queue    source ``/queue/<exchange>%2F<topic>[.<server>]``
request to topic / server   target ``/queue`` (default exchange)         the queue name
fanout subscription         source ``/exchange/amq.topic/<topic>_fanout`` (a private
                            ``amq.gen-*`` queue per server)
fanout cast                 target ``/exchange/amq.topic``               ``<topic>_fanout``
reply queue (client-named)  source ``/queue/reply_<uuid>``
reply                       target ``/queue``                            the reply queue
notification queue          target and source ``/queue/<exchange>%2F<topic>.<priority>``
                            (the notifier's attach declares it, so notifications wait
                            for their first listener)
==========================  ===========================================  =================

RabbitMQ 3.10 never deletes the reply queue or the fanout ``amq.gen-*``
queues (it ignores the terminus expiry policy the driver asks for); their
names match the operator policy ``^(amq\\.gen-|reply_)`` with ``expires``
that ``doc/amqp1.md`` recommends. Notification listener pools are not
possible: the plugin cannot bind a named queue to a routing key.

**Qpid-style** (qpidd, qdrouterd, ActiveMQ Artemis; written to the AMQP 1.0
specification and oslo.messaging's old driver, *not proven against a real
broker here*): replies come over a dynamic receiver whose address the peer
assigns; sends go through one anonymous-relay sender (``to`` set per
message) when the peer offers ``ANONYMOUS-RELAY``, else through a sender per
address. Addresses are oslo's *legacy* (``unicast.<exchange>.<topic>``,
``exclusive.<exchange>.<topic>.<server>``, ``broadcast.<exchange>.<topic>.all``)
or *routable* (``openstack.org/om/rpc/anycast/<exchange>/<topic>``...) ones,
with the virtual host inside when ``pseudo_vhost`` is on.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from messaging.addressing import fanout_exchange, server_key
from messaging.target import Target

from .options import Settings

__all__ = ["AddressProfile", "LegacyProfile", "RabbitMQProfile", "Route", "RoutableProfile",
           "Source", "choose_profile", "open_hostname"]

ANONYMOUS_RELAY = "ANONYMOUS-RELAY"


@dataclass(frozen=True)
class Route:
    """Where one message goes: the sender link's target, and the message's ``to``/``subject``.

    ``link`` None is the anonymous-relay sender; ``declares`` says the
    attach creates the node (a risky attach: it gets a session of its own).
    """

    link: str | None
    to: str | None = None
    subject: str | None = None
    declares: bool = False


@dataclass(frozen=True)
class Source:
    """A receiver link's source: an address, or a dynamic node (address assigned by the peer)."""

    address: str | None
    dynamic: bool = False
    #: the node outlives no link (a private queue): ask for deletion when the link goes
    temporary: bool = False


class AddressProfile(abc.ABC):
    """How one kind of peer names things. One per connection, chosen at its ``open``."""

    name: str = ""
    #: replies come over a dynamic receiver (the address is known once attached)
    dynamic_replies: bool = False

    def __init__(self, settings: Settings, vhost: str | None,
                 default_exchange: str) -> None:
        self.settings = settings
        self.vhost = vhost or None
        self.default_exchange = default_exchange

    def rpc_exchange(self, target: Target) -> str:
        """Exchange of a request: the target's, ``default_rpc_exchange``, the control exchange."""
        return target.exchange or self.settings.default_rpc_exchange or self.default_exchange

    def notify_exchange(self, target: Target) -> str:
        """Exchange of a notification (same precedence, ``default_notification_exchange``)."""
        return (target.exchange or self.settings.default_notification_exchange
                or self.default_exchange)

    @abc.abstractmethod
    def request(self, target: Target) -> Route:
        """Route of a call or cast (fanout when ``target.fanout``)."""

    @abc.abstractmethod
    def reply(self, reply_q: str) -> Route:
        """Route of a reply to the address a request named."""

    @abc.abstractmethod
    def notification(self, target: Target) -> Route:
        """Route of a notification (``target.topic`` is ``<topic>.<priority>``)."""

    @abc.abstractmethod
    def rpc_server_sources(self, target: Target) -> list[Source]:
        """What an RPC server consumes: its topic, its server name, the topic's fanout."""

    @abc.abstractmethod
    def notification_sources(self, targets: Sequence[Target]) -> list[Source]:
        """What a notification listener (no pool) consumes, one source per ``topic.priority``."""

    @abc.abstractmethod
    def reply_source(self, name: str) -> Source:
        """The client's reply receiver (``name`` is used when the client names it)."""

    def raw_request(self, target: Target) -> Route:
        """Route to where servers of ``target`` read, creating that node if the peer can."""
        return self.request(target)


def _escape(name: str) -> str:
    """A name as one segment of a RabbitMQ address (the plugin unescapes ``%2F`` only)."""
    return name.replace("/", "%2F")


class RabbitMQProfile(AddressProfile):
    """RabbitMQ 3.x's ``rabbitmq_amqp1_0`` plugin (see the module docstring)."""

    name = "rabbitmq"
    #: the exchange fanout subscriptions bind to (always present on RabbitMQ)
    FANOUT_EXCHANGE = "amq.topic"

    def __init__(self, settings: Settings, vhost: str | None, default_exchange: str) -> None:
        super().__init__(settings, vhost, default_exchange)
        self._requests: dict[Target, Route] = {}

    def queue_name(self, exchange: str, key: str) -> str:
        """The queue of ``key`` on ``exchange`` (exchanges cannot be declared over AMQP 1.0)."""
        return f"{exchange}/{key}"

    def _rpc_queue(self, target: Target) -> str:
        topic = target.topic or ""
        key = server_key(topic, target.server) if target.server else topic
        return self.queue_name(self.rpc_exchange(target), key)

    def request(self, target: Target) -> Route:
        route = self._requests.get(target)
        if route is None:  # targets repeat: keep their routes (bounded)
            if len(self._requests) >= 1024:
                self._requests.clear()
            if target.fanout:
                route = Route(f"/exchange/{self.FANOUT_EXCHANGE}",
                              subject=fanout_exchange(target.topic or ""))
            else:
                route = Route("/queue", subject=self._rpc_queue(target))
            self._requests[target] = route
        return route

    def raw_request(self, target: Target) -> Route:
        return Route(f"/queue/{_escape(self._rpc_queue(target))}", declares=True)

    def reply(self, reply_q: str) -> Route:
        return Route("/queue", subject=reply_q)

    def notification(self, target: Target) -> Route:
        name = self.queue_name(self.notify_exchange(target), target.topic or "")
        return Route(f"/queue/{_escape(name)}", declares=True)

    def rpc_server_sources(self, target: Target) -> list[Source]:
        topic = target.topic or ""
        sources = [Source(f"/queue/{_escape(self._rpc_queue(target.replace(server=None)))}")]
        if target.server:
            sources.append(Source(f"/queue/{_escape(self._rpc_queue(target))}"))
        sources.append(Source(f"/exchange/{self.FANOUT_EXCHANGE}/"
                              f"{_escape(fanout_exchange(topic))}", temporary=True))
        return sources

    def notification_sources(self, targets: Sequence[Target]) -> list[Source]:
        return [Source(self.notification(t).link) for t in targets]

    def reply_source(self, name: str) -> Source:
        return Source(f"/queue/{_escape(name)}", temporary=True)


class _QpidProfile(AddressProfile):
    """Shared by the legacy and routable Qpid-style profiles: dynamic replies, relay sends."""

    dynamic_replies = True

    def __init__(self, settings: Settings, vhost: str | None, default_exchange: str,
                 anonymous_relay: bool) -> None:
        super().__init__(settings, vhost, default_exchange)
        self.anonymous_relay = anonymous_relay

    def _route(self, address: str) -> Route:
        if self.anonymous_relay:
            return Route(None, to=address)
        return Route(address, to=address)

    @abc.abstractmethod
    def anycast(self, exchange: str, topic: str, notify: bool = False) -> str:
        """Address shared by every server (or listener) of ``topic``."""

    @abc.abstractmethod
    def unicast(self, exchange: str, topic: str, server: str) -> str:
        """Address of one server."""

    @abc.abstractmethod
    def multicast(self, exchange: str, topic: str) -> str:
        """Fanout address of ``topic``."""

    def request(self, target: Target) -> Route:
        exchange, topic = self.rpc_exchange(target), target.topic or ""
        if target.fanout:
            return self._route(self.multicast(exchange, topic))
        if target.server:
            return self._route(self.unicast(exchange, topic, target.server))
        return self._route(self.anycast(exchange, topic))

    def reply(self, reply_q: str) -> Route:
        return self._route(reply_q)

    def notification(self, target: Target) -> Route:
        return self._route(self.anycast(self.notify_exchange(target), target.topic or "",
                                        notify=True))

    def rpc_server_sources(self, target: Target) -> list[Source]:
        exchange, topic = self.rpc_exchange(target), target.topic or ""
        sources = [Source(self.anycast(exchange, topic))]
        if target.server:
            sources.append(Source(self.unicast(exchange, topic, target.server)))
        sources.append(Source(self.multicast(exchange, topic)))
        return sources

    def notification_sources(self, targets: Sequence[Target]) -> list[Source]:
        return [Source(self.anycast(self.notify_exchange(t), t.topic or "", notify=True))
                for t in targets]

    def reply_source(self, name: str) -> Source:
        return Source(None, dynamic=True, temporary=True)


class LegacyProfile(_QpidProfile):
    """oslo's legacy addresses (qpidd): ``<prefix>[.<vhost>].<exchange>.<topic>[.<server>]``."""

    name = "legacy"

    def _address(self, prefix: str, *parts: str) -> str:
        if self.vhost and self.settings.pseudo_vhost:
            prefix = f"{prefix}.{self.vhost}"
        return ".".join((prefix, *parts))

    def anycast(self, exchange: str, topic: str, notify: bool = False) -> str:
        return self._address(self.settings.group_request_prefix, exchange, topic)

    def unicast(self, exchange: str, topic: str, server: str) -> str:
        return self._address(self.settings.server_request_prefix, exchange, topic, server)

    def multicast(self, exchange: str, topic: str) -> str:
        return self._address(self.settings.broadcast_prefix, exchange, topic, "all")


class RoutableProfile(_QpidProfile):
    """oslo's routable addresses (qdrouterd): ``<prefix>/<cast>[/<vhost>]/<exchange>/<topic>``."""

    name = "routable"

    def _address(self, notify: bool, cast: str, *parts: str) -> str:
        s = self.settings
        segments = [s.notify_address_prefix if notify else s.rpc_address_prefix, cast]
        if self.vhost and s.pseudo_vhost:
            segments.append(self.vhost)
        return "/".join((*segments, *parts))

    def anycast(self, exchange: str, topic: str, notify: bool = False) -> str:
        return self._address(notify, self.settings.anycast_address, exchange, topic)

    def unicast(self, exchange: str, topic: str, server: str) -> str:
        return self._address(False, self.settings.unicast_address, exchange, topic, server)

    def multicast(self, exchange: str, topic: str) -> str:
        return self._address(False, self.settings.multicast_address, exchange, topic)


def _text(value: Any) -> str:
    return str(value) if value is not None else ""


def choose_profile(settings: Settings, vhost: str | None, default_exchange: str,
                   properties: Mapping[Any, Any] | None,
                   offered_capabilities: Sequence[Any] | None) -> AddressProfile:
    """The profile for a peer, from ``addressing_mode`` and what its ``open`` announced.

    ``dynamic``: RabbitMQ when ``product`` says so and the peer offers no
    anonymous relay; otherwise oslo's rule (legacy for ``qpid-cpp`` or an
    unnamed product, routable for anything else, e.g. qdrouterd).
    """
    props = {str(k): v for k, v in (properties or {}).items()}
    product = _text(props.get("product"))
    offered = {str(c) for c in (offered_capabilities or ())}
    relay = ANONYMOUS_RELAY in offered
    mode = settings.addressing_mode
    if mode == "dynamic":
        if product.lower() == "rabbitmq" and not relay:
            mode = "rabbitmq"
        elif product in ("", "qpid-cpp"):
            mode = "legacy"
        else:
            mode = "routable"
    if mode == "rabbitmq":
        return RabbitMQProfile(settings, vhost, default_exchange)
    if mode == "legacy":
        return LegacyProfile(settings, vhost, default_exchange, relay)
    return RoutableProfile(settings, vhost, default_exchange, relay)


def open_hostname(settings: Settings, vhost: str | None) -> str | None:
    """``open.hostname`` for a URL's virtual host (None: proton sends the host name).

    RabbitMQ reads ``vhost:NAME``; it is sent unless a Qpid-style profile is
    forced with ``pseudo_vhost`` off, where the bare name is (oslo's way).
    """
    if not vhost:
        return None
    if settings.addressing_mode in ("legacy", "routable"):
        return None if settings.pseudo_vhost else vhost
    return f"vhost:{vhost}"
