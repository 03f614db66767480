"""The matchmaker interface and how a driver picks one.

A matchmaker stores, per key, a set of values, each with its own expiry: a
server registers the address of its socket under the keys it serves and
refreshes the entries while it lives; an entry it does not refresh (its
process died) expires by itself, and a server that stops removes its
entries at once. Keys and values are strings chosen by the driver; the
matchmaker neither parses nor validates them.

A URL's virtual host is a namespace: ``zmq:///blue`` and ``zmq:///green``
never see each other's servers.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

from messaging.exceptions import InvalidTransportURL, MessagingException
from messaging.url import TransportURL

if TYPE_CHECKING:
    from ..options import Settings

__all__ = ["NAMESPACE", "Matchmaker", "MatchmakerError", "installed_matchmakers",
           "load_matchmaker", "matchmaker_name", "purge_namespace"]

#: Entry point group of matchmakers.
NAMESPACE = "messaging.zmq.matchmakers"


class MatchmakerError(MessagingException):
    """The matchmaker could not be reached, or it refused an operation."""


class Matchmaker(abc.ABC):
    """Sets of expiring values by key; thread-safe.

    Built as ``Matchmaker(url, settings)``; the URL's virtual host is the
    namespace (``""`` when absent). Every operation raises
    :class:`MatchmakerError` when the store cannot be used, within
    ``settings.zmq_matchmaker_timeout`` for a networked store.
    """

    #: True if an operation talks to a server over the network (and so may wait on it):
    #: the driver's future verbs then never look up on the caller's thread.
    networked: ClassVar[bool] = False

    def __init__(self, url: TransportURL, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.namespace = url.virtual_host or ""

    @abc.abstractmethod
    def register(self, key: str, value: str, ttl: float) -> None:
        """Add ``value`` under ``key`` (or refresh it) for ``ttl`` seconds (<= 0: until removed)."""

    @abc.abstractmethod
    def unregister(self, key: str, value: str) -> None:
        """Remove ``value`` from ``key`` (nothing if it is not there)."""

    @abc.abstractmethod
    def lookup(self, key: str) -> list[str]:
        """The values under ``key`` that have not expired, in no particular order."""

    @abc.abstractmethod
    def purge(self) -> int:
        """Remove every entry of this namespace; returns how many keys went (tests, operators)."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the matchmaker is not used afterwards."""

    def describe(self) -> str:
        """Where the entries live, for logs and errors (never with a password)."""
        return f"{type(self).__name__} (namespace {self.namespace!r})"


def matchmaker_name(url: TransportURL, settings: Settings) -> str:
    """The matchmaker a URL selects: ``zmq+NAME://`` or else ``rpc_zmq_matchmaker``."""
    _, plus, suffix = url.transport.partition("+")
    return suffix if plus else settings.rpc_zmq_matchmaker


def installed_matchmakers() -> list[str]:
    """Names of the matchmakers registered under :data:`NAMESPACE`."""
    from importlib import metadata

    return sorted({ep.name for ep in metadata.entry_points(group=NAMESPACE)})


def load_matchmaker(url: TransportURL, settings: Settings) -> Matchmaker:
    """Build the matchmaker the URL and options select.

    Raises ``InvalidTransportURL`` naming the installed matchmakers when the
    name is unknown, or when the matchmaker refuses the URL.
    """
    from stevedore import driver as sd_driver

    name = matchmaker_name(url, settings)
    shown = url.render(mask=True)
    try:
        manager: Any = sd_driver.DriverManager(NAMESPACE, name, invoke_on_load=True,
                                               invoke_args=(url, settings))
    except MessagingException:
        raise
    except Exception as exc:
        if type(exc).__name__ == "NoMatches" or isinstance(exc, RuntimeError):
            raise InvalidTransportURL(shown, f"No zmq matchmaker named {name!r}; installed: "
                                             f"{', '.join(installed_matchmakers())}") from None
        raise InvalidTransportURL(shown, f"Cannot load the zmq matchmaker {name!r}: "
                                         f"{type(exc).__name__}: {exc}") from exc
    matchmaker: Matchmaker = manager.driver
    return matchmaker


def purge_namespace(url: str | TransportURL, conf: Any = None) -> int:
    """Delete every entry of the URL's namespace in its matchmaker (tests, tools, operators).

    Returns how many keys went. Servers still running register again at
    their next refresh.
    """
    from ..options import load_settings

    parsed = TransportURL.parse(url)
    matchmaker = load_matchmaker(parsed, load_settings(conf, parsed))
    try:
        return matchmaker.purge()
    finally:
        matchmaker.close()
