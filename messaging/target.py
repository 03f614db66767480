"""Target: where a message goes (clients) or what a server answers (servers)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["Target"]

_FIELDS = ("exchange", "topic", "namespace", "version", "server", "fanout")


class Target:
    """An address on the bus, as oslo.messaging's: a plain object whose fields can be set.

    Clients fill what they send to (``topic``, optionally ``server``,
    ``fanout``, ``namespace``, ``version``); an RPC server listens on
    ``topic`` + ``server``; an endpoint's ``target`` carries the
    ``namespace`` and ``version`` it implements.

    Services set fields after construction (``target.server = host``), so a
    Target is mutable. Targets compare equal by value but hash by identity,
    as oslo.messaging's do: a Target can be a dict key and still be changed
    afterwards. The library copies a Target wherever it keeps one (a
    listener's subscription, a send in flight), so a later change never
    reaches what is already subscribed or sent.
    """

    exchange: str | None
    topic: str | None
    namespace: str | None
    version: str | None
    server: str | None
    fanout: bool | None
    legacy_namespaces: list[str]

    def __init__(self, exchange: str | None = None, topic: str | None = None,
                 namespace: str | None = None, version: str | None = None,
                 server: str | None = None, fanout: bool | None = None,
                 legacy_namespaces: Iterable[str] | None = None) -> None:
        self.exchange = exchange
        self.topic = topic
        self.namespace = namespace
        self.version = version
        self.server = server
        self.fanout = fanout
        self.legacy_namespaces = list(legacy_namespaces or ())

    @property
    def accepted_namespaces(self) -> list[str | None]:
        """The namespace plus the legacy ones this endpoint still answers."""
        return [self.namespace, *self.legacy_namespaces]

    def copy(self) -> Target:
        """An independent copy (what the library keeps of a caller's Target)."""
        new = Target.__new__(Target)
        new.__dict__.update(self.__dict__)
        new.legacy_namespaces = list(self.legacy_namespaces)
        return new

    def replace(self, **overrides: Any) -> Target:
        """Return a copy with the given fields changed."""
        new = self.copy()
        for name, value in overrides.items():
            if name == "legacy_namespaces":
                value = list(value or ())
            elif name not in _FIELDS:
                raise TypeError(f"Target has no field {name!r}")
            setattr(new, name, value)
        return new

    #: oslo.messaging's spelling: ``target(server='s1')`` is a changed copy.
    __call__ = replace

    def _key(self) -> tuple[Any, ...]:
        return (self.exchange, self.topic, self.namespace, self.version, self.server,
                self.fanout, tuple(self.legacy_namespaces))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        # Identity, as oslo.messaging: a value hash would break a dict keyed on a
        # Target as soon as its owner changes a field.
        return id(self)

    def __repr__(self) -> str:
        parts = [f"{name}={getattr(self, name)}" for name in _FIELDS if getattr(self, name)]
        if self.legacy_namespaces:
            parts.append(f"legacy_namespaces={self.legacy_namespaces}")
        return "<Target " + ", ".join(parts) + ">"

    __str__ = __repr__
