"""Options of the ``[oslo_messaging_notifications]`` group, as data.

Importing this module registers the table in
:data:`messaging.options.OPTION_GROUPS`, so ``list_opts`` and
``register_opts`` know the group; nothing is registered on a ``ConfigOpts``
unless the application asks for it.
"""

from __future__ import annotations

from typing import Any

from .. import options as _options
from ..options import Option

__all__ = ["GROUP", "NOTIFICATION_OPTIONS", "notification_options", "service_conf"]

GROUP = "oslo_messaging_notifications"

NOTIFICATION_OPTIONS: tuple[Option, ...] = (
    Option("driver", list, [],
           "Notifier drivers to send notifications with (messaging, messagingv2, log, "
           "routing, test, noop), one per line as with oslo.messaging. None or only noop "
           "disables notifications.", multi=True),
    Option("transport_url", str, None,
           "URL of the bus for notifications; [DEFAULT] transport_url when unset.",
           secret=True),
    Option("topics", list, ["notifications"],
           "Topics notifications are sent on (one copy per topic)."),
    Option("retry", int, -1,
           "Connection retries when sending a notification: -1 forever, 0 none, N at most N."),
    Option("routing_config", str, "",
           "YAML file the routing driver reads its routes from."),
)

_options.OPTION_GROUPS[GROUP] = NOTIFICATION_OPTIONS


def notification_options(conf: Any) -> dict[str, Any]:
    """The group's values from ``conf`` (ConfigOpts, mapping or None), defaults filled in."""
    return _options.resolve_options(conf, GROUP, NOTIFICATION_OPTIONS)


def service_conf(conf: Any = None, default: Any = None) -> Any:
    """``conf``, else ``default``, else oslo.config's global ``cfg.CONF`` (None without it).

    For what oslo.messaging builds from ``cfg.CONF`` because its caller hands
    it nothing else: the logging handlers oslo.log and ``logging.config``
    build, and the WSGI middleware paste.deploy builds.
    """
    if conf is not None:
        return conf
    if default is not None:
        return default
    try:
        from oslo_config import cfg
    except ImportError:
        return None
    return cfg.CONF
