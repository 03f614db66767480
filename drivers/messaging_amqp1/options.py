"""Options of the AMQP 1.0 driver: the ``[oslo_messaging_amqp]`` table.

Names and meanings are oslo.messaging 14.x's AMQP 1.0 driver options where
this driver does the same thing, so an existing configuration keeps working;
every option can also be given in the transport URL query
(``amqp://host/?addressing_mode=rabbitmq``), which wins over the
configuration. What this driver cannot do is refused with
``InvalidTransportURL`` naming the option, never accepted and ignored:

- ``allow_insecure_clients`` is a server-side (listening) setting; a client
  has no use for it.
- ``sasl_config_dir`` / ``sasl_config_name`` need proton built with Cyrus
  SASL; they are refused when proton has only its built-in mechanisms.
- ``pre_settled=rpc-call`` would make a call's request unconfirmed while its
  caller waits for the reply; calls are always sent unsettled.

Differences from oslo's defaults, and why: ``pre_settled`` defaults to
``rpc-reply`` only, so a cast returns once the broker accepted it (like the
RabbitMQ driver's publisher confirms); ``addressing_mode`` adds
``rabbitmq`` (see :mod:`messaging_amqp1.addressing`); the retry and timeout
options take fractions of a second.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, fields
from typing import Any

from messaging.exceptions import InvalidTransportURL
from messaging.options import OPTION_GROUPS, Option, resolve_options
from messaging.url import TransportURL

__all__ = ["AMQP1_OPTIONS", "GROUP", "PRE_SETTLED_KINDS", "Settings", "load_settings"]

GROUP = "oslo_messaging_amqp"

#: Message kinds ``pre_settled`` may name.
PRE_SETTLED_KINDS = ("rpc-cast", "rpc-reply", "notify")
_MODES = ("dynamic", "rabbitmq", "legacy", "routable")

AMQP1_OPTIONS: tuple[Option, ...] = (
    Option("container_name", str, None,
           "AMQP container id of this client; must be unique. Default: generated."),
    Option("idle_timeout", float, 0.0,
           "Seconds of silence after which a connection counts as dead; proton sends "
           "heartbeats at half this (0 disables)."),
    Option("trace", bool, False, "Debug: log every AMQP frame (proton frame trace)."),
    Option("ssl", bool, False, "Connect over TLS (also chosen by the amqps:// scheme)."),
    Option("ssl_ca_file", str, "", "CA certificate PEM file to verify the broker with."),
    Option("ssl_cert_file", str, "", "Client certificate PEM file."),
    Option("ssl_key_file", str, "", "Private key PEM file of ssl_cert_file."),
    Option("ssl_key_password", str, None, "Password of an encrypted ssl_key_file.",
           secret=True),
    Option("ssl_verify_vhost", bool, False,
           "Check the broker certificate against the virtual host name instead of the "
           "host name of the URL."),
    Option("allow_insecure_clients", bool, False,
           "Server-side option of oslo's driver; refused here (this driver only connects)."),
    Option("sasl_mechanisms", str, "",
           "Space separated SASL mechanisms to allow (default: PLAIN when a user is given, "
           "else what proton offers)."),
    Option("sasl_config_dir", str, "", "Cyrus SASL configuration directory."),
    Option("sasl_config_name", str, "", "Cyrus SASL configuration file name (no .conf)."),
    Option("sasl_default_realm", str, "",
           "SASL realm appended to user names that carry none (user@realm)."),
    Option("username", str, "", "User name when the URL names none."),
    Option("password", str, "", "Password when the URL names none.", secret=True),
    Option("connection_retry_interval", float, 1.0,
           "Seconds to pause before reconnecting after a lost connection or a failed pass "
           "over the URL's hosts."),
    Option("connection_retry_backoff", float, 2.0,
           "Seconds added to the pause after each failed pass over the URL's hosts."),
    Option("connection_retry_interval_max", float, 30.0, "Longest pause between passes."),
    Option("link_retry_delay", float, 10.0,
           "Seconds to pause before re-attaching a link the broker detached with a "
           "recoverable error."),
    Option("default_reply_timeout", float, 30.0,
           "Seconds a server keeps trying to send a reply."),
    Option("default_send_timeout", float, 30.0,
           "Seconds a cast may wait for the broker (connecting, credit, its outcome) before "
           "it fails with MessageDeliveryFailure."),
    Option("default_notify_timeout", float, 30.0,
           "Seconds a notification may wait for the broker before it fails."),
    Option("default_reply_retry", int, 0,
           "Times a server re-sends a reply the broker released or lost with a connection "
           "(-1: until default_reply_timeout)."),
    Option("default_sender_link_timeout", float, 600.0,
           "Seconds an idle sender link stays attached."),
    Option("addressing_mode", str, "dynamic",
           "Address profile: dynamic (chosen from what the broker announces), rabbitmq, "
           "legacy or routable (Qpid-style).", choices=_MODES),
    Option("pseudo_vhost", bool, True,
           "Qpid-style profiles: put the virtual host into every address."),
    Option("server_request_prefix", str, "exclusive",
           "Legacy addressing: prefix of addresses of one server."),
    Option("broadcast_prefix", str, "broadcast",
           "Legacy addressing: prefix of fanout addresses."),
    Option("group_request_prefix", str, "unicast",
           "Legacy addressing: prefix of addresses shared by a group of servers."),
    Option("rpc_address_prefix", str, "openstack.org/om/rpc",
           "Routable addressing: prefix of RPC addresses."),
    Option("notify_address_prefix", str, "openstack.org/om/notify",
           "Routable addressing: prefix of notification addresses."),
    Option("multicast_address", str, "multicast", "Routable addressing: fanout segment."),
    Option("unicast_address", str, "unicast", "Routable addressing: one-server segment."),
    Option("anycast_address", str, "anycast", "Routable addressing: shared segment."),
    Option("default_notification_exchange", str, None,
           "Exchange of notification addresses when the target names none "
           "(default: the control exchange)."),
    Option("default_rpc_exchange", str, None,
           "Exchange of RPC addresses when the target names none "
           "(default: the control exchange)."),
    Option("reply_link_credit", int, 200, "Credit of the link receiving call replies."),
    Option("rpc_server_credit", int, 100,
           "Unsettled requests an RPC server link may hold."),
    Option("notify_server_credit", int, 100,
           "Unsettled notifications a listener link may hold."),
    Option("pre_settled", list, ["rpc-reply"],
           "Message kinds sent pre-settled (no outcome awaited): rpc-cast, rpc-reply, notify."),
    Option("connect_timeout", float, 10.0,
           "Seconds one connection attempt (TCP, TLS, SASL, open) may take "
           "(this library's own)."),
)

OPTION_GROUPS[GROUP] = AMQP1_OPTIONS


@dataclass(frozen=True)
class Settings:
    """The resolved options, typed; one per driver."""

    container_name: str | None
    idle_timeout: float
    trace: bool
    ssl: bool
    ssl_ca_file: str
    ssl_cert_file: str
    ssl_key_file: str
    ssl_key_password: str | None
    ssl_verify_vhost: bool
    allow_insecure_clients: bool
    sasl_mechanisms: str
    sasl_config_dir: str
    sasl_config_name: str
    sasl_default_realm: str
    username: str
    password: str
    connection_retry_interval: float
    connection_retry_backoff: float
    connection_retry_interval_max: float
    link_retry_delay: float
    default_reply_timeout: float
    default_send_timeout: float
    default_notify_timeout: float
    default_reply_retry: int
    default_sender_link_timeout: float
    addressing_mode: str
    pseudo_vhost: bool
    server_request_prefix: str
    broadcast_prefix: str
    group_request_prefix: str
    rpc_address_prefix: str
    notify_address_prefix: str
    multicast_address: str
    unicast_address: str
    anycast_address: str
    default_notification_exchange: str | None
    default_rpc_exchange: str | None
    reply_link_credit: int
    rpc_server_credit: int
    notify_server_credit: int
    pre_settled: list[str]
    connect_timeout: float

    def presettle(self, kind: str) -> bool:
        """True if messages of ``kind`` (see :data:`PRE_SETTLED_KINDS`) go pre-settled."""
        return kind in self.pre_settled


def load_settings(conf: Any, url: TransportURL) -> Settings:
    """Resolve the options from ``conf`` and the URL query (the query wins).

    Raises ``InvalidTransportURL`` naming an unknown option, a bad value, or
    an option this driver refuses.
    """
    shown = url.render(mask=True)
    values = resolve_options(conf, GROUP, AMQP1_OPTIONS, query=url.query, url=shown)
    settings = Settings(**{f.name: values[f.name] for f in fields(Settings)})

    def refuse(why: str) -> None:
        raise InvalidTransportURL(shown, why)

    if settings.allow_insecure_clients:
        refuse("allow_insecure_clients is a listening-side option; this driver only "
               "connects to a broker")
    if settings.sasl_config_dir or settings.sasl_config_name:
        from proton import SASL

        if not SASL.extended():
            refuse("sasl_config_dir/sasl_config_name need proton built with Cyrus SASL; "
                   "this proton has only its built-in mechanisms")
    bad = [k for k in settings.pre_settled if k not in PRE_SETTLED_KINDS]
    if bad:
        hint = " (calls are always sent unsettled)" if "rpc-call" in bad else ""
        refuse(f"pre_settled: unknown or refused kind(s) {bad}; allowed: "
               f"{list(PRE_SETTLED_KINDS)}{hint}")
    for name in ("connection_retry_interval", "connection_retry_backoff", "link_retry_delay",
                 "idle_timeout"):
        if getattr(settings, name) < 0:
            refuse(f"{name} must not be negative")
    for name in ("connection_retry_interval_max", "default_reply_timeout",
                 "default_send_timeout", "default_notify_timeout", "connect_timeout",
                 "default_sender_link_timeout"):
        if getattr(settings, name) <= 0:
            refuse(f"{name} must be positive")
    for name in ("reply_link_credit", "rpc_server_credit", "notify_server_credit"):
        if getattr(settings, name) < 1:
            refuse(f"{name} must be at least 1")
    if settings.ssl_key_file and not settings.ssl_cert_file:
        refuse("ssl_key_file needs ssl_cert_file")
    return settings


def default_container_name() -> str:
    """A container id unique to this process and driver."""
    return f"messaging-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
