"""Marks the code that sets up a long-lived resource the first time it is needed.

A transport opens its connection, starts its I/O thread or a pool starts
its threads on first use, in the caller's thread: from an event loop, a
bounded wait paid once per transport (or pool), not per message. The
conformance kit's loop watch (:mod:`messaging.testing.loop_watch`) counts
any wait our code enters on an event loop as blocking it, except below a
function marked here, so a driver marks its own first-use setup with
:func:`first_use_setup` (and only that: anything a call or a message does
every time must never wait on the loop).
"""

from __future__ import annotations

from collections.abc import Callable
from types import CodeType
from typing import Any, TypeVar

__all__ = ["first_use_setup", "is_first_use_setup"]

F = TypeVar("F", bound=Callable[..., Any])
_MARKED: set[CodeType] = set()


def first_use_setup(func: F) -> F:
    """Mark ``func`` as setting up, once, a resource used for the rest of its owner's life."""
    _MARKED.add(func.__code__)
    return func


def is_first_use_setup(code: CodeType) -> bool:
    """True if ``code`` is a function marked with :func:`first_use_setup`."""
    return code in _MARKED
