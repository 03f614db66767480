"""Access policies: which endpoint methods a remote caller may reach."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["RPCAccessPolicyBase", "DefaultRPCAccessPolicy", "ExplicitRPCAccessPolicy",
           "LegacyRPCAccessPolicy", "expose"]

F = TypeVar("F", bound=Callable[..., Any])


class RPCAccessPolicyBase(abc.ABC):
    """Decides per method; a refused method looks to the caller like a missing one."""

    @abc.abstractmethod
    def is_allowed(self, endpoint: Any, method: str) -> bool:
        """True if ``method`` of ``endpoint`` may be called remotely."""


class LegacyRPCAccessPolicy(RPCAccessPolicyBase):
    """Allows every method, private ones included (unsafe; for old code only)."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return True


class DefaultRPCAccessPolicy(RPCAccessPolicyBase):
    """Refuses names starting with ``_``."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return not method.startswith("_")


class ExplicitRPCAccessPolicy(RPCAccessPolicyBase):
    """Allows only methods decorated with :func:`expose`."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return bool(getattr(getattr(endpoint, method, None), "exposed", False))


def expose(func: F) -> F:
    """Mark a method as callable under :class:`ExplicitRPCAccessPolicy`."""
    func.exposed = True  # type: ignore[attr-defined]
    return func
