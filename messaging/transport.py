"""Transports: a driver chosen by URL scheme, wrapped with target checks.

``get_transport`` parses the URL, looks the scheme up in the entry point
group ``messaging.drivers`` with stevedore and builds the driver. The core
never imports a driver itself, so built-in and third-party drivers load the
same way.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

from . import options as _options
from .correlation import settle_future
from .driver import Capabilities, Driver, Listener, Reply, unserializable
from .envelope import dumps
from .exceptions import (
    DriverLoadFailure,
    InvalidTarget,
    InvalidTransportURL,
    MessageDeliveryFailure,
    MessagingException,
    NotSupported,
)
from .health import TransportHealth
from .instrument import Instrumentation
from .target import Target
from .url import TransportHost, TransportURL

__all__ = [
    "DRIVER_NAMESPACE",
    "DriverInfo",
    "DriverLoadFailure",
    "InvalidTransportURL",
    "NotificationTransport",
    "RPCTransport",
    "Transport",
    "TransportHost",
    "TransportOptions",
    "TransportURL",
    "get_notification_transport",
    "get_rpc_transport",
    "get_transport",
    "installed_drivers",
    "set_transport_defaults",
    "warn_unless_notification",
    "warn_unless_rpc",
]

LOG = logging.getLogger(__name__)
T = TypeVar("T")
DRIVER_NAMESPACE = "messaging.drivers"
NOTIFICATION_GROUP = "oslo_messaging_notifications"
_defaults: dict[str, Any] = {}


def set_transport_defaults(control_exchange: str) -> None:
    """Set the process-wide default exchange used when conf does not name one."""
    _defaults["control_exchange"] = control_exchange
    try:  # oslo.config: the registered option's default, as oslo's cfg.set_defaults
        _options.set_opt_default("DEFAULT", "control_exchange", control_exchange)
    except ImportError:
        pass


class TransportOptions:
    """Per-client options for sending, as oslo.messaging's.

    :param at_least_once: a send that no queue can take fails at once with
        :class:`~messaging.MessageUndeliverable` instead of being dropped
        (a call then does not wait for its timeout). Needs a driver that can
        tell (``capabilities.mandatory``); others raise ``NotSupported``.
    """

    def __init__(self, at_least_once: bool = False) -> None:
        self._at_least_once = bool(at_least_once)

    @property
    def at_least_once(self) -> bool:
        """True if an unroutable send must fail instead of being dropped."""
        return self._at_least_once

    def __repr__(self) -> str:
        return f"TransportOptions(at_least_once={self._at_least_once})"


class Transport:
    """A handle on one bus. Thread-safe; close it with :meth:`cleanup` or ``with``."""

    def __init__(self, driver: Driver, conf: Any = None,
                 allowed_remote_exmods: Iterable[str] = ()) -> None:
        self.driver = driver
        self.conf = driver.conf if conf is None else conf
        self.url = driver.url
        self.allowed_remote_exmods = tuple(allowed_remote_exmods)
        core = _options.resolve_options(self.conf, "DEFAULT", _options.DEFAULT_OPTIONS)
        self.rpc_response_timeout: float = core["rpc_response_timeout"]
        self.executor_thread_pool_size: int = core["executor_thread_pool_size"]
        #: Tracing and metrics, when ``conf`` enables them; None otherwise.
        self.instrumentation = Instrumentation.from_conf(self.conf, driver)
        if self.instrumentation is not None:
            # traced and measured verbs for this transport only; without them the
            # class's verbs run untouched (no cost at all when nothing is enabled)
            self.instrumentation.wrap_verbs(self)
            monitor = getattr(driver, "monitor", None)
            if monitor is not None:
                monitor.metrics = self.instrumentation.metrics

    @property
    def health(self) -> TransportHealth:
        """The state of the driver's connections (connected, blocked, last error).

        A liveness probe reads ``transport.health.ok``; see :mod:`messaging.health`.
        """
        monitor = getattr(self.driver, "monitor", None)
        if monitor is None:  # a driver built without the base class's __init__
            return TransportHealth(None, False, None, None, 0, 0)
        health: TransportHealth = monitor.snapshot(brokered=self.driver.capabilities.brokered)
        return health

    @property
    def capabilities(self) -> Capabilities:
        """The driver's declared :class:`~messaging.driver.Capabilities`."""
        return self.driver.capabilities

    def _check_send(self, target: Target, ctxt: Mapping[str, Any],
                    message: Mapping[str, Any]) -> Target:
        """Refuse, before the driver sees it, what no bus can carry.

        Returns the copy of ``target`` the driver gets: a Target is mutable,
        and a send in flight (or waiting for a reconnect) must not follow
        later changes to the caller's object.
        """
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        if target.fanout and not self.driver.capabilities.fanout:
            raise NotSupported(f"driver {self.url.scheme!r} does not support fanout")
        if not self.driver.checks_json:  # else the driver's one encoding checks it
            try:
                dumps((ctxt, message))
            except (TypeError, ValueError) as exc:
                raise unserializable(target, message, exc) from None
        return target.copy()

    def _mandatory(self, target: Target, mandatory: bool) -> dict[str, bool]:
        """The driver keyword for an unroutable-means-error send, or NotSupported.

        As oslo.messaging, a fanout cast is never mandatory (nothing tells how
        many servers should have had it).
        """
        if not mandatory or target.fanout:
            return {}
        if not self.driver.capabilities.mandatory:
            raise NotSupported(f"driver {self.url.scheme!r} cannot report a request that no "
                               f"queue takes (TransportOptions(at_least_once=True))")
        return {"mandatory": True}

    def call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             timeout: float, call_monitor_timeout: float | None = None,
             retry: int | None = None, mandatory: bool = False) -> Reply:
        """Send a request and wait for its reply (see :meth:`Driver.call`).

        With ``mandatory`` a request no queue takes raises
        :class:`~messaging.MessageUndeliverable` at once (``at_least_once``).
        """
        target = self._check_send(target, ctxt, message)
        extra = self._mandatory(target, mandatory)
        driver: Any = self.driver  # ``mandatory`` is a keyword of capable drivers only
        reply: Reply = self._guard(target, lambda: driver.call(
            target, ctxt, message, timeout=timeout,
            call_monitor_timeout=call_monitor_timeout, retry=retry, **extra))
        return reply

    def cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
             retry: int | None = None, mandatory: bool = False) -> None:
        """Send a request without waiting (see :meth:`Driver.cast`); ``mandatory``: :meth:`call`."""
        target = self._check_send(target, ctxt, message)
        extra = self._mandatory(target, mandatory)
        driver: Any = self.driver
        self._guard(target, lambda: driver.cast(target, ctxt, message, retry=retry, **extra))

    def notify(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any], *,
               version: float = 2.0, retry: int | None = None) -> None:
        """Publish a notification (see :meth:`Driver.notify`)."""
        target = self._check_send(target, ctxt, message)
        self._guard(target, lambda: self.driver.notify(
            target, ctxt, message, version=version, retry=retry))

    def submit_call(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, timeout: float, call_monitor_timeout: float | None = None,
                    retry: int | None = None, mandatory: bool = False) -> Future[Reply]:
        """Send a request; the future gets the reply (see :meth:`Driver.submit_call`).

        Invalid targets and messages raise at once; the future raises only
        :class:`~messaging.MessagingException` subclasses. Cancelling it
        abandons the call. ``mandatory`` as :meth:`call`.
        """
        target = self._check_send(target, ctxt, message)
        extra = self._mandatory(target, mandatory)
        driver: Any = self.driver
        return self._guard_future(target, lambda: driver.submit_call(
            target, ctxt, message, timeout=timeout,
            call_monitor_timeout=call_monitor_timeout, retry=retry, **extra))

    def submit_cast(self, target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                    *, retry: int | None = None, mandatory: bool = False) -> Future[None]:
        """Send a request; the future completes once the bus took it (``mandatory``: see call)."""
        target = self._check_send(target, ctxt, message)
        extra = self._mandatory(target, mandatory)
        driver: Any = self.driver
        return self._guard_future(target, lambda: driver.submit_cast(
            target, ctxt, message, retry=retry, **extra))

    def submit_notify(self, target: Target, ctxt: Mapping[str, Any],
                      message: Mapping[str, Any], *, version: float = 2.0,
                      retry: int | None = None) -> Future[None]:
        """Publish a notification; the future completes once the bus took it."""
        target = self._check_send(target, ctxt, message)
        return self._guard_future(target, lambda: self.driver.submit_notify(
            target, ctxt, message, version=version, retry=retry))

    def listen(self, target: Target) -> Listener:
        """Subscribe an RPC server; needs ``topic`` and ``server``."""
        if not (target.topic and target.server):
            raise InvalidTarget("A server's target must have topic and server names", target)
        return self.driver.listen(target.copy())

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None) -> Listener:
        """Subscribe a notification listener to each ``(target, priority)``."""
        pairs: list[tuple[Target, str]] = []
        for target, priority in targets_and_priorities:
            if not target.topic:
                raise InvalidTarget("A target must have a topic specified", target)
            if (target, priority) not in pairs:  # by value: Targets hash by identity
                pairs.append((target.copy(), priority))
        return self.driver.listen_for_notifications(pairs, pool)

    @staticmethod
    def _guard(target: Target, send: Callable[[], T]) -> T:
        try:
            return send()
        except MessagingException:
            raise
        except Exception as exc:  # a driver leaked its client's error: keep the contract
            raise _leaked(target, exc) from exc

    @classmethod
    def _guard_future(cls, target: Target, submit: Callable[[], Future[T]]) -> Future[T]:
        inner = cls._guard(target, submit)
        outer: Future[T] = Future()

        def forward(f: Future[T]) -> None:
            if f.cancelled():
                outer.cancel()
                return
            exc = f.exception()
            if exc is None:
                settle_future(outer, f.result())
            elif isinstance(exc, MessagingException):
                settle_future(outer, exc=exc)
            else:
                settle_future(outer, exc=_leaked(target, exc))

        def cancel_inner(f: Future[T]) -> None:
            if f.cancelled():
                inner.cancel()

        outer.add_done_callback(cancel_inner)
        inner.add_done_callback(forward)
        return outer

    def cleanup(self) -> None:
        """Close the driver's connections and threads; pending calls end with MessagingTimeout."""
        self.driver.cleanup()
        Driver.cleanup(self.driver)  # the default submit pool, should the driver skip super()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url!r}>"


#: Attribute of the log record written when a driver broke the interface by raising
#: something other than a ``messaging`` exception (the conformance kit fails on it).
LEAK_RECORD_ATTRIBUTE = "messaging_driver_leak"


def _leaked(target: Target, exc: BaseException) -> MessageDeliveryFailure:
    LOG.error("Driver raised an unexpected %s sending to %s: %s", type(exc).__name__, target,
              exc, exc_info=exc, extra={LEAK_RECORD_ATTRIBUTE: type(exc).__qualname__})
    return MessageDeliveryFailure(f"Failed to send to {target}: {exc}")


class RPCTransport(Transport):
    """A transport meant for RPC."""


class NotificationTransport(Transport):
    """A transport meant for notifications."""


def warn_unless_rpc(transport: Transport) -> None:
    """Log oslo.messaging's warning when RPC is built on a notification transport."""
    if not isinstance(transport, RPCTransport):
        LOG.warning("Using notification transport for RPC. Please use get_rpc_transport to "
                    "obtain an RPC transport instance.")


def warn_unless_notification(transport: Transport) -> None:
    """Log oslo.messaging's warning when notifications are built on an RPC transport."""
    if not isinstance(transport, NotificationTransport):
        LOG.warning("Using RPC transport for notifications. Please use "
                    "get_notification_transport to obtain a notification transport instance.")


def _default_exchange(conf: Any) -> str:
    found = _options.resolve_options(conf, "DEFAULT", _options.DEFAULT_OPTIONS)
    if "control_exchange" in _defaults and _options._lookup(
            conf, "DEFAULT", "control_exchange") is _options._MISSING:
        return str(_defaults["control_exchange"])
    return str(found["control_exchange"])


def _load_driver(conf: Any, url: TransportURL) -> Driver:
    from stevedore import driver as sd_driver

    scheme = url.scheme
    try:
        manager: Any = sd_driver.DriverManager(
            DRIVER_NAMESPACE, scheme, invoke_on_load=True,
            invoke_args=(conf, url), invoke_kwds={"default_exchange": _default_exchange(conf)})
    except Exception as exc:
        if type(exc).__name__ == "NoMatches" or isinstance(exc, RuntimeError):
            known = sorted({d.scheme for d in installed_drivers()})
            hint = difflib.get_close_matches(scheme, known, n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else ""
            raise DriverLoadFailure(scheme, f"no driver for scheme {scheme!r}; installed: "
                                    f"{', '.join(known) or 'none'}.{extra}") from None
        if isinstance(exc, MessagingException):
            raise
        raise DriverLoadFailure(scheme, exc) from exc
    drv: Driver = manager.driver
    return drv


def _make(conf: Any, url: str | TransportURL | None, allowed_remote_exmods: Iterable[str] | None,
          transport_cls: type[Transport], fallback_group: str | None = None) -> Transport:
    # oslo.config reads a file's values only for registered options: register ours
    # on the ConfigOpts we are handed (as oslo.messaging does), never on another.
    _options.ensure_registered(conf)
    if not url and fallback_group is not None:
        opt = _options.Option("transport_url", str, None, "", secret=True)
        url = _options.read_option(conf, fallback_group, opt)
    if not url:
        url = _options.read_option(conf, "DEFAULT", _options.DEFAULT_OPTIONS[0])
    parsed = TransportURL.parse(conf, url)
    driver = _load_driver(conf, parsed)
    LOG.debug("Loaded driver %s for %r", type(driver).__name__, parsed)
    return transport_cls(driver, conf, allowed_remote_exmods or ())


def get_rpc_transport(conf: Any = None, url: str | TransportURL | None = None,
                      allowed_remote_exmods: Iterable[str] | None = None,
                      transport_cls: type[Transport] = RPCTransport) -> Transport:
    """Build a transport for RPC from ``url`` (or conf's ``transport_url``).

    ``conf`` is an oslo.config object, a mapping or None. Modules listed in
    ``allowed_remote_exmods`` may have their exceptions re-raised by clients.
    """
    return _make(conf, url, allowed_remote_exmods, transport_cls)


def get_transport(conf: Any = None, url: str | TransportURL | None = None,
                  allowed_remote_exmods: Iterable[str] | None = None,
                  transport_cls: type[Transport] = RPCTransport) -> Transport:
    """Same as :func:`get_rpc_transport` (the older name, kept for oslo code)."""
    return _make(conf, url, allowed_remote_exmods, transport_cls)


def get_notification_transport(conf: Any = None, url: str | TransportURL | None = None,
                               allowed_remote_exmods: Iterable[str] | None = None,
                               ) -> Transport:
    """Build a transport for notifications.

    Without ``url`` it reads ``[oslo_messaging_notifications] transport_url``
    and then ``[DEFAULT] transport_url``.
    """
    return _make(conf, url, allowed_remote_exmods, NotificationTransport,
                 fallback_group=NOTIFICATION_GROUP)


@dataclass(frozen=True)
class DriverInfo:
    """An installed driver: its scheme, entry point and the distribution providing it."""

    scheme: str
    target: str
    distribution: str
    version: str

    def load(self) -> type[Driver]:
        """Import the driver class (fails if its client library is missing)."""
        for ep in metadata.entry_points(group=DRIVER_NAMESPACE):
            if ep.name == self.scheme:
                cls: type[Driver] = ep.load()
                return cls
        raise DriverLoadFailure(self.scheme, "no longer installed")


def installed_drivers() -> list[DriverInfo]:
    """Every driver registered under ``messaging.drivers``, without importing them."""
    out = []
    for ep in metadata.entry_points(group=DRIVER_NAMESPACE):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "?"
        dist_version = dist.version if dist is not None else "?"
        out.append(DriverInfo(ep.name, ep.value, dist_name, dist_version))
    return sorted(out, key=lambda d: d.scheme)
