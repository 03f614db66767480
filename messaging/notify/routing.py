"""The ``routing`` notifier driver: send each notification only to the drivers a file allows.

The file is ``[oslo_messaging_notifications] routing_config``, YAML in
oslo.messaging's format::

    group_1:                      # any name; groups are independent
      messagingv2:                # a notifier driver name
        accepted_events:          # fnmatch patterns on event_type
          - compute.instance.*
      log:
        accepted_priorities:      # fnmatch patterns on the priority (case-insensitive)
          - error
          - critical
    group_2:
      messaging:
        accepted_priorities: [info]

A driver receives a notification if, in some group, every rule given for it
matches (a driver listed with no rules receives everything). Each driver
named in the file is loaded once.

Without ``routing_config`` the driver is built, as oslo.messaging's is,
and drops every notification with a logged error. Unlike oslo.messaging
(which reads the file lazily, at the first notification), a file that is
named is read and checked when the driver is built: an unreadable file, bad
YAML, an unknown rule key or an unknown driver raise
:class:`RoutingConfigError`, so a :class:`~messaging.notify.Notifier` using
``routing`` fails at start-up with a message naming the file and the problem.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..exceptions import MessagingException
from .drivers import NotifierDriver, notify_each, submit_each
from .options import notification_options

if TYPE_CHECKING:
    from ..transport import Transport

__all__ = ["RoutingConfigError", "RoutingDriver", "Route", "load_routes"]

LOG = logging.getLogger(__name__)
_RULE_KEYS = ("accepted_events", "accepted_priorities")


class RoutingConfigError(MessagingException, ValueError):
    """The routing file is missing, unreadable or not in the expected shape."""


class Route:
    """One driver's rules inside one group: event and priority patterns (None: any)."""

    def __init__(self, driver: str, events: Sequence[str] | None,
                 priorities: Sequence[str] | None) -> None:
        self.driver = driver
        self.events = tuple(events) if events is not None else None
        self.priorities = tuple(p.lower() for p in priorities) if priorities is not None \
            else None

    def accepts(self, event_type: str, priority: str) -> bool:
        """True if ``event_type`` and ``priority`` (any case) pass every rule."""
        if self.events is not None and not any(
                fnmatch.fnmatchcase(event_type, p) for p in self.events):
            return False
        if self.priorities is not None and not any(
                fnmatch.fnmatchcase(priority.lower(), p) for p in self.priorities):
            return False
        return True

    def __repr__(self) -> str:
        return f"<Route {self.driver} events={self.events} priorities={self.priorities}>"


def _patterns(where: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RoutingConfigError(f"{where} must be a list of patterns, not {value!r}")


def load_routes(filename: str) -> list[Route]:
    """Read and check a routing file; raises :class:`RoutingConfigError` naming the problem."""
    import yaml

    try:
        with open(filename, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise RoutingConfigError(f"cannot read routing file {filename!r}: {exc}") from None
    except yaml.YAMLError as exc:
        raise RoutingConfigError(f"routing file {filename!r} is not valid YAML: {exc}"
                                 ) from None
    if data is None:
        LOG.warning("Routing file %r is empty: no notification will be sent", filename)
        return []
    if not isinstance(data, Mapping):
        raise RoutingConfigError(f"routing file {filename!r} must map group names to drivers")
    routes = []
    for group, drivers in data.items():
        if not isinstance(drivers, Mapping):
            raise RoutingConfigError(f"routing file {filename!r}: group {group!r} must map "
                                     f"driver names to rules")
        for name, rules in drivers.items():
            where = f"routing file {filename!r}: {group}.{name}"
            if rules is None:
                rules = {}
            if not isinstance(rules, Mapping):
                raise RoutingConfigError(f"{where} must map rule names to patterns")
            unknown = set(rules) - set(_RULE_KEYS)
            if unknown:
                raise RoutingConfigError(f"{where}: unknown rule(s) {sorted(unknown)}; "
                                         f"known: {list(_RULE_KEYS)}")
            events = rules.get("accepted_events")
            priorities = rules.get("accepted_priorities")
            routes.append(Route(
                str(name),
                None if events is None else _patterns(f"{where}.accepted_events", events),
                None if priorities is None else _patterns(f"{where}.accepted_priorities",
                                                          priorities)))
    return routes


class RoutingDriver(NotifierDriver):
    """Dispatches each notification to the drivers the routing file selects for it."""

    def __init__(self, conf: Any, topics: Sequence[str] | None = None,
                 transport: Transport | None = None) -> None:
        super().__init__(conf, topics, transport)
        from .notifier import NotifierDriverLoadFailure, load_drivers

        filename = notification_options(conf)["routing_config"]
        self.filename = filename
        if not filename:
            # oslo.messaging builds the driver and drops every notification; so do we,
            # loudly, rather than stop a service whose notifier was never routed.
            LOG.error("The routing notifier driver has no [oslo_messaging_notifications] "
                      "routing_config: every notification will be dropped")
            self.routes: list[Route] = []
            self.drivers: dict[str, NotifierDriver] = {}
            return
        self.routes = load_routes(filename)
        names = list(dict.fromkeys(r.driver for r in self.routes))
        if "routing" in names:
            raise RoutingConfigError(f"routing file {filename!r} routes to 'routing' itself")
        try:
            self.drivers = load_drivers(names, conf, self.topics, transport)
        except NotifierDriverLoadFailure as exc:
            raise RoutingConfigError(f"routing file {filename!r}: {exc}") from exc

    def drivers_for(self, event_type: str, priority: str) -> list[str]:
        """Names of the drivers that get a notification, in file order."""
        return list(dict.fromkeys(r.driver for r in self.routes
                                  if r.accepts(event_type, priority)))

    def _selected(self, message: Mapping[str, Any], priority: str,
                  ) -> list[tuple[str, NotifierDriver]]:
        event_type = str(message.get("event_type", ""))
        if not self.filename:
            LOG.error("Notification %r (%s) dropped: the routing notifier driver has no "
                      "[oslo_messaging_notifications] routing_config", event_type, priority)
            return []
        return [(name, self.drivers[name]) for name in self.drivers_for(event_type, priority)]

    def notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any], priority: str,
               retry: int | None) -> None:
        notify_each(self._selected(message, priority), ctxt, message, priority, retry)

    def submit_notify(self, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                      priority: str, retry: int | None) -> Future[None]:
        """Send through the selected drivers' futures at once."""
        return submit_each(self._selected(message, priority), ctxt, message, priority, retry)
