"""Options of both AMQP 0-9-1 drivers: oslo.messaging's ``[oslo_messaging_rabbit]`` table.

Names and defaults are oslo.messaging 18.x's, so an existing configuration
file keeps working, for ``rabbit://`` (kombu) and ``pika://`` alike (the
``kombu_*`` options keep their names on both); every option can also be
given in the transport URL query (``pika://host/?heartbeat_timeout_threshold=10``),
which wins over the configuration. :func:`load_settings` resolves both into
a typed :class:`Settings`.

A few options are accepted for compatibility but have no effect here (the
send-connection pool: this driver shares one connection whose publishes are
pipelined). ``use_queue_manager`` (stable reply and fanout queue names,
:mod:`messaging_amqp091.queue_names`) and ``rabbit_stream_fanout`` (one
stream queue per fanout topic, :mod:`messaging_amqp091.streams`) do what
they do in oslo.messaging; a combination stream fanout cannot work with is
refused.

Three options are this library's own: ``publisher_confirms``,
``connect_timeout`` (one connection attempt) and ``send_timeout`` (the
longest a cast or notification may wait for the broker to take and confirm
it: an unreachable or blocked broker cannot make a send hang).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass, fields
from typing import Any

from messaging.options import OPTION_GROUPS, Option, resolve_options
from messaging.url import TransportURL

from .recovery import STRATEGIES

__all__ = ["GROUP", "RABBIT_OPTIONS", "Settings", "load_settings"]

LOG = logging.getLogger(__name__)

GROUP = "oslo_messaging_rabbit"

RABBIT_OPTIONS: tuple[Option, ...] = (
    Option("amqp_durable_queues", bool, False,
           "Use durable queues and exchanges for topics and notifications."),
    Option("amqp_auto_delete", bool, False,
           "Auto-delete the control exchange and topic queues when unused."),
    Option("rpc_conn_pool_size", int, 30,
           "Accepted for compatibility; publishes share one pipelined connection."),
    Option("conn_pool_min_size", int, 2, "Accepted for compatibility; unused."),
    Option("conn_pool_ttl", int, 1200, "Accepted for compatibility; unused."),
    Option("ssl", bool, False, "Connect over TLS."),
    Option("ssl_version", str, "",
           "TLS protocol version (tlsv1, tlsv1_1, tlsv1_2, sslv23); empty: negotiate."),
    Option("ssl_key_file", str, "", "Client private key file (PEM)."),
    Option("ssl_cert_file", str, "", "Client certificate file (PEM)."),
    Option("ssl_ca_file", str, "",
           "CA bundle to verify the broker with; setting it requires a valid certificate."),
    Option("ssl_enforce_fips_mode", bool, False, "Accepted for compatibility; unused."),
    Option("kombu_reconnect_delay", float, 1.0,
           "Seconds to wait before reconnecting after a lost connection."),
    Option("kombu_reconnect_splay", float, 0.0, "Accepted for compatibility; unused."),
    Option("kombu_compression", str, None,
           "Compress published bodies (gzip, bzip2, lzma); compressed bodies are always read."),
    Option("kombu_missing_consumer_retry_timeout", float, 60.0,
           "How long a server retries a reply whose reply queue is missing.",
           deprecated_names=("kombu_reconnect_timeout",)),
    Option("kombu_failover_strategy", str, "round-robin",
           "How to order the URL's hosts in each pass of connection attempts (every pass "
           "tries every host once).",
           choices=STRATEGIES),
    Option("rabbit_login_method", str, "AMQPLAIN", "SASL mechanism.",
           choices=("PLAIN", "AMQPLAIN", "EXTERNAL", "RABBIT-CR-DEMO")),
    Option("rabbit_retry_interval", float, 1.0,
           "Seconds between passes over the hosts while none listens (connection refused), "
           "and the first wait of the backoff after other failures."),
    Option("rabbit_retry_backoff", float, 2.0,
           "Seconds added to the reconnect wait after each failed pass (except refused ones)."),
    Option("rabbit_interval_max", float, 30.0, "Longest wait between reconnect passes."),
    Option("rabbit_ha_queues", bool, False,
           "Declare queues with x-ha-policy: all (obsolete since RabbitMQ 3.0)."),
    Option("rabbit_quorum_queue", bool, False,
           "Declare topic and notification queues as quorum queues."),
    Option("rabbit_transient_quorum_queue", bool, False,
           "Declare reply and fanout queues as quorum queues."),
    Option("rabbit_quorum_delivery_limit", int, 0, "x-delivery-limit of quorum queues."),
    Option("rabbit_quorum_max_memory_length", int, 0,
           "x-max-in-memory-length of quorum queues."),
    Option("rabbit_quorum_max_memory_bytes", int, 0,
           "x-max-in-memory-bytes of quorum queues."),
    Option("rabbit_transient_queues_ttl", int, 1800,
           "Seconds an unused reply or fanout queue lives (x-expires); with "
           "rabbit_stream_fanout, how long the fanout stream keeps a message (x-max-age). "
           "0: no limit."),
    Option("rabbit_qos_prefetch_count", int, 0,
           "Unacknowledged messages a listener may hold (0: unlimited; "
           "rabbit_stream_fanout needs a positive value)."),
    Option("heartbeat_timeout_threshold", int, 60,
           "AMQP heartbeat timeout in seconds (0 disables heartbeats)."),
    Option("heartbeat_rate", int, 3, "Heartbeat checks per timeout period."),
    Option("direct_mandatory_flag", bool, True,
           "Accepted for compatibility; replies are always mandatory."),
    Option("enable_cancel_on_failover", bool, False,
           "Consume with x-cancel-on-ha-failover: true."),
    Option("use_queue_manager", bool, False,
           "Stable reply and fanout queue names: reply_<hostname>:<processname>:<n> and "
           "<topic>_fanout_<hostname>:<processname>:<n> (oslo's format), so a restarted "
           "process finds its queues again (they expire, and are not deleted on close). "
           "n is the lowest slot free on this host (a flock, released when the process "
           "exits): two live processes never share a name."),
    Option("hostname", str, socket.gethostname(),
           "Host name in use_queue_manager's queue names."),
    Option("processname", str, os.path.basename(sys.argv[0]) if sys.argv else "python",
           "Process name in use_queue_manager's queue names."),
    Option("rabbit_stream_fanout", bool, False,
           "One stream queue (x-queue-type: stream) <topic>_fanout per fanout topic, shared "
           "by all its servers, instead of one queue per server; each server resumes after "
           "a reconnect at the first message it has not handled. Needs RabbitMQ 3.9+, "
           "rabbit_qos_prefetch_count > 0 and rabbit_transient_quorum_queue."),
    Option("publisher_confirms", bool, True,
           "Wait for the broker to confirm casts and notifications (this library's own)."),
    Option("connect_timeout", float, 5.0,
           "Seconds one TCP/AMQP connection attempt may take (this library's own)."),
    Option("send_timeout", float, 60.0,
           "Longest a cast or notification waits for the broker to take and confirm it "
           "(unreachable, blocked by a resource alarm, refusing it) before it raises "
           "MessageDeliveryFailure; retry=None retries until then (this library's own)."),
)

OPTION_GROUPS[GROUP] = RABBIT_OPTIONS


@dataclass(frozen=True)
class Settings:
    """The resolved options, typed; one per driver."""

    amqp_durable_queues: bool
    amqp_auto_delete: bool
    rpc_conn_pool_size: int
    conn_pool_min_size: int
    conn_pool_ttl: int
    ssl: bool
    ssl_version: str
    ssl_key_file: str
    ssl_cert_file: str
    ssl_ca_file: str
    ssl_enforce_fips_mode: bool
    kombu_reconnect_delay: float
    kombu_reconnect_splay: float
    kombu_compression: str | None
    kombu_missing_consumer_retry_timeout: float
    kombu_failover_strategy: str
    rabbit_login_method: str
    rabbit_retry_interval: float
    rabbit_retry_backoff: float
    rabbit_interval_max: float
    rabbit_ha_queues: bool
    rabbit_quorum_queue: bool
    rabbit_transient_quorum_queue: bool
    rabbit_quorum_delivery_limit: int
    rabbit_quorum_max_memory_length: int
    rabbit_quorum_max_memory_bytes: int
    rabbit_transient_queues_ttl: int
    rabbit_qos_prefetch_count: int
    heartbeat_timeout_threshold: int
    heartbeat_rate: int
    direct_mandatory_flag: bool
    enable_cancel_on_failover: bool
    use_queue_manager: bool
    hostname: str
    processname: str
    rabbit_stream_fanout: bool
    publisher_confirms: bool
    connect_timeout: float
    send_timeout: float

    @property
    def durable(self) -> bool:
        """Durability of the control exchange and topic queues (quorum forces it, as oslo)."""
        return self.amqp_durable_queues or self.rabbit_quorum_queue


def _known_compression(method: str) -> bool:
    from .codec import compression_methods

    return method in compression_methods()


def load_settings(conf: Any, url: TransportURL) -> Settings:
    """Resolve the options from ``conf`` and the URL query (the query wins).

    An unknown query key or a bad value raises ``InvalidTransportURL``
    naming it; so does a combination RabbitMQ would refuse.
    """
    from messaging.exceptions import InvalidTransportURL

    shown = url.render(mask=True)
    values = resolve_options(conf, GROUP, RABBIT_OPTIONS, query=url.query, url=shown)
    settings = Settings(**{f.name: values[f.name] for f in fields(Settings)})
    if settings.rabbit_ha_queues and settings.rabbit_quorum_queue:
        raise InvalidTransportURL(shown, "rabbit_quorum_queue and rabbit_ha_queues are "
                                             "both enabled; a queue is quorum or mirrored")
    if settings.heartbeat_rate <= 0:
        raise InvalidTransportURL(shown, "heartbeat_rate must be positive")
    for name in ("send_timeout", "connect_timeout"):
        if not getattr(settings, name) > 0:
            raise InvalidTransportURL(shown, f"{name} must be positive (seconds)")
    if settings.kombu_compression and not _known_compression(settings.kombu_compression):
        raise InvalidTransportURL(shown, f"Unknown kombu_compression "
                                         f"{settings.kombu_compression!r}")
    from .streams import check_settings

    why = check_settings(settings)
    if why is not None:
        raise InvalidTransportURL(shown, why)
    if settings.use_queue_manager and not (settings.hostname and settings.processname):
        raise InvalidTransportURL(shown, "use_queue_manager needs a non-empty hostname and "
                                         "processname (they are part of the queue names)")
    return settings
