"""Target: where a message goes (clients) or what a server answers (servers)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["Target"]


@dataclass(frozen=True)
class Target:
    """An immutable address on the bus.

    Clients fill what they send to (``topic``, optionally ``server``,
    ``fanout``, ``namespace``, ``version``); an RPC server listens on
    ``topic`` + ``server``; an endpoint's ``target`` carries the
    ``namespace`` and ``version`` it implements. Equal targets hash equal.
    """

    exchange: str | None = None
    topic: str | None = None
    namespace: str | None = None
    version: str | None = None
    server: str | None = None
    fanout: bool | None = None
    legacy_namespaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.legacy_namespaces, tuple):
            object.__setattr__(self, "legacy_namespaces", tuple(self.legacy_namespaces or ()))

    @property
    def accepted_namespaces(self) -> tuple[str | None, ...]:
        """The namespace plus the legacy ones this endpoint still answers."""
        return (self.namespace, *self.legacy_namespaces)

    def replace(self, **overrides: Any) -> Target:
        """Return a copy with the given fields changed."""
        return dataclasses.replace(self, **overrides)

    __call__ = replace

    def __str__(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                 if getattr(self, f.name) not in (None, ())]
        return "<Target " + ", ".join(parts) + ">"
