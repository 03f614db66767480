"""Options of the SQLite driver, given in the URL query (``sqlite:////tmp/bus.db?lease=10``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from messaging.options import Option, resolve_options
from messaging.url import TransportURL

__all__ = ["GROUP", "SQLITE_OPTIONS", "Settings", "load_settings"]

GROUP = "messaging_sqlite"

SQLITE_OPTIONS: tuple[Option, ...] = (
    Option("poll_interval", float, 0.02,
           "Seconds between two looks at an empty queue (SQLite cannot push)."),
    Option("lease", float, 30.0,
           "Seconds a delivered, unsettled message stays invisible to others; renewed while "
           "its listener lives, so a crashed process's messages come back after it."),
    Option("queue_ttl", float, 1800.0,
           "Seconds a private queue (reply, fanout) outlives its process."),
    Option("busy_timeout", float, 10.0, "Seconds to wait for another process's write lock."),
)


@dataclass(frozen=True)
class Settings:
    """The resolved options."""

    poll_interval: float
    lease: float
    queue_ttl: float
    busy_timeout: float


def load_settings(conf: Any, url: TransportURL) -> Settings:
    """Options from ``conf``'s ``[messaging_sqlite]`` group, overridden by the URL query."""
    values = resolve_options(conf, GROUP, SQLITE_OPTIONS, query=url.query,
                             url=url.render(mask=True))
    return Settings(**values)
