"""Options of the ZeroMQ driver: the ``[oslo_messaging_zmq]`` table.

Where oslo.messaging 8.x's zmq driver had an option with the same meaning,
its name is kept (``rpc_zmq_bind_address``, ``rpc_zmq_host``,
``rpc_zmq_min_port``, ``zmq_target_expire``...). Options of oslo's driver
that select designs this driver does not have (proxies, acknowledgements,
msgpack...) are listed too, so that a configuration setting them is refused
with an error naming the option instead of being silently ignored. Every
option may also be given in the transport URL query, which wins over the
configuration.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, fields
from typing import Any

from messaging.exceptions import InvalidTransportURL
from messaging.options import OPTION_GROUPS, Option, resolve_options
from messaging.url import TransportURL

__all__ = ["GROUP", "REFUSED_OPTIONS", "Settings", "ZMQ_OPTIONS", "load_settings"]

GROUP = "oslo_messaging_zmq"

#: Loopback by default: ZeroMQ here has no authentication or encryption.
DEFAULT_BIND_ADDRESS = "127.0.0.1"

ZMQ_OPTIONS: tuple[Option, ...] = (
    Option("rpc_zmq_bind_address", str, DEFAULT_BIND_ADDRESS,
           "Address servers bind to: an IP address, an interface name, or * for all. "
           "Loopback by default; nothing here authenticates peers."),
    Option("rpc_zmq_host", str, "",
           "Address or host name clients use to reach this node's servers (the address "
           "registered in the matchmaker). Empty: the address the server bound, or this "
           "host's name when binding to all interfaces."),
    Option("rpc_zmq_matchmaker", str, "local",
           "Matchmaker used by zmq:// (an entry point of messaging.zmq.matchmakers: local, "
           "redis). zmq+NAME:// in the URL selects NAME instead."),
    Option("rpc_zmq_min_port", int, 49153, "Lowest port a server may bind."),
    Option("rpc_zmq_max_port", int, 65536, "Highest port a server may bind, plus one."),
    Option("rpc_zmq_bind_port_retries", int, 100,
           "Random ports tried before binding a server fails."),
    Option("zmq_target_expire", int, 30,
           "Seconds a matchmaker entry lives unless refreshed (<= 0: until removed)."),
    Option("zmq_target_update", int, 10,
           "Seconds between two refreshes of a live server's matchmaker entries."),
    Option("zmq_linger", int, 5,
           "Seconds a closing socket may take to send what is still queued (-1: no limit, "
           "0: drop at once).", deprecated_names=("rpc_cast_timeout",)),
    Option("zmq_tcp_keepalive", int, -1,
           "TCP keepalive: -1 the OS default, 0 off, 1 on."),
    Option("zmq_tcp_keepalive_idle", int, -1, "TCP keepalive idle time (-1: OS default)."),
    Option("zmq_tcp_keepalive_cnt", int, -1, "TCP keepalive probe count (-1: OS default)."),
    Option("zmq_tcp_keepalive_intvl", int, -1,
           "TCP keepalive probe interval (-1: OS default)."),
    # -- this library's own -------------------------------------------------------------
    Option("zmq_max_message_size", int, 16 * 1024 * 1024,
           "Largest message in bytes: larger ones are refused by senders and make "
           "receivers drop the connection that carried them (-1: no limit)."),
    Option("zmq_heartbeat_interval", float, 5.0,
           "Seconds between ZMTP heartbeats on idle connections; a peer silent for three "
           "intervals counts as gone, and so does a connection or handshake not done by "
           "then (0: no heartbeats, libzmq's own timeouts)."),
    Option("zmq_subscribe_timeout", float, 5.0,
           "Seconds a fanout cast waits for newly found servers to confirm their "
           "subscription before it is sent anyway."),
    Option("zmq_lookup_cache", float, 1.0,
           "Seconds a matchmaker lookup is reused before it is made again (by casts, "
           "fanouts and notifications; a call asks the matchmaker each time)."),
    Option("zmq_send_timeout", float, 5.0,
           "Seconds a cast or notification may take to reach a connected server (finding "
           "one in the matchmaker, connecting, waiting while its queue is full) before it "
           "fails with MessageDeliveryFailure."),
    Option("zmq_matchmaker_timeout", float, 2.0,
           "Seconds one matchmaker operation (a Redis command) may take."),
    Option("zmq_matchmaker_dir", str, "",
           "Directory of the local matchmaker. Empty: messaging-zmq under "
           "$XDG_RUNTIME_DIR, or messaging-zmq-<uid> in the temporary directory."),
)

#: oslo.messaging zmq options for designs this driver does not have: only the value shown
#: (the way this driver works) is accepted.
REFUSED_OPTIONS: tuple[Option, ...] = (
    Option("use_router_proxy", bool, False, "Not implemented (no proxies): must be false."),
    Option("use_dynamic_connections", bool, False,
           "Not implemented (connections are kept): must be false."),
    Option("use_pub_sub", bool, True,
           "Fanout always uses PUB/SUB with a subscription handshake: must be true."),
    Option("subscribe_on", list, [], "Not implemented (no publisher proxies): must be empty."),
    Option("rpc_use_acks", bool, False,
           "Not implemented (no acknowledgements; casts are at-most-once): must be false."),
    Option("zmq_immediate", bool, True,
           "Messages are not kept for a server that went away; they go to another server: "
           "must be true."),
    Option("rpc_zmq_serialization", str, "json", "Only json is spoken: must be json."),
    Option("rpc_zmq_contexts", int, 1, "One ZeroMQ context per transport: must be 1."),
)

OPTIONS: tuple[Option, ...] = ZMQ_OPTIONS + REFUSED_OPTIONS
OPTION_GROUPS[GROUP] = OPTIONS


@dataclass(frozen=True)
class Settings:
    """The resolved options, typed; one per driver."""

    rpc_zmq_bind_address: str
    rpc_zmq_host: str
    rpc_zmq_matchmaker: str
    rpc_zmq_min_port: int
    rpc_zmq_max_port: int
    rpc_zmq_bind_port_retries: int
    zmq_target_expire: int
    zmq_target_update: int
    zmq_linger: int
    zmq_tcp_keepalive: int
    zmq_tcp_keepalive_idle: int
    zmq_tcp_keepalive_cnt: int
    zmq_tcp_keepalive_intvl: int
    zmq_max_message_size: int
    zmq_heartbeat_interval: float
    zmq_subscribe_timeout: float
    zmq_lookup_cache: float
    zmq_send_timeout: float
    zmq_matchmaker_timeout: float
    zmq_matchmaker_dir: str

    @property
    def matchmaker_dir(self) -> str:
        """Directory of the local matchmaker (per user unless configured)."""
        if self.zmq_matchmaker_dir:
            return self.zmq_matchmaker_dir
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if runtime and os.path.isdir(runtime):
            return os.path.join(runtime, "messaging-zmq")
        uid = os.getuid() if hasattr(os, "getuid") else 0
        return os.path.join(tempfile.gettempdir(), f"messaging-zmq-{uid}")


def load_settings(conf: Any, url: TransportURL) -> Settings:
    """Resolve the options from ``conf`` and the URL query (the query wins).

    Raises ``InvalidTransportURL`` naming an unknown option, a bad value,
    or an oslo option set to a design this driver does not implement.
    """
    shown = url.render(mask=True)
    try:
        values = resolve_options(conf, GROUP, OPTIONS, query=url.query, url=shown)
    except (TypeError, ValueError) as exc:  # a bad value in the configuration itself
        raise InvalidTransportURL(shown, f"Bad [{GROUP}] option: {exc}") from None
    for option in REFUSED_OPTIONS:
        if values[option.name] != option.default:
            raise InvalidTransportURL(
                shown, f"Option {option.name}={values[option.name]!r} is not supported by "
                       f"the zmq driver: {option.help}")
    settings = Settings(**{f.name: values[f.name] for f in fields(Settings)})
    _check(settings, shown)
    return settings


def _check(s: Settings, shown: str) -> None:
    def bad(text: str) -> InvalidTransportURL:
        return InvalidTransportURL(shown, f"Bad [{GROUP}] options: {text}")

    if not 0 < s.rpc_zmq_min_port < s.rpc_zmq_max_port <= 65536:
        raise bad(f"need 0 < rpc_zmq_min_port ({s.rpc_zmq_min_port}) < rpc_zmq_max_port "
                  f"({s.rpc_zmq_max_port}) <= 65536")
    if s.rpc_zmq_bind_port_retries < 1:
        raise bad("rpc_zmq_bind_port_retries must be at least 1")
    if s.zmq_target_update <= 0:
        raise bad("zmq_target_update must be positive")
    if 0 < s.zmq_target_expire <= s.zmq_target_update:
        raise bad(f"zmq_target_expire ({s.zmq_target_expire}) must be longer than "
                  f"zmq_target_update ({s.zmq_target_update}), or entries expire while "
                  f"their server lives")
    for name in ("zmq_subscribe_timeout", "zmq_lookup_cache", "zmq_send_timeout",
                 "zmq_heartbeat_interval"):
        if getattr(s, name) < 0:
            raise bad(f"{name} must not be negative")
    if s.zmq_matchmaker_timeout <= 0:
        raise bad("zmq_matchmaker_timeout must be positive")
    if s.zmq_max_message_size == 0 or s.zmq_max_message_size < -1:
        raise bad("zmq_max_message_size must be positive, or -1 for no limit")
    if not s.rpc_zmq_bind_address:
        raise bad("rpc_zmq_bind_address must not be empty")
