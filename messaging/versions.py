"""RPC version strings (``major.minor[.revision]``) and their compatibility rule."""

from __future__ import annotations

import functools

from .exceptions import MessagingException

__all__ = ["parse_version", "version_is_compatible"]


def parse_version(version: str) -> tuple[int, int, int]:
    """Split ``'1.2'`` or ``'1.2.3'`` into integers; raise a clear error otherwise."""
    parts = str(version).split(".")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise MessagingException(
            f"Version must contain a major and minor integer. Got {version}")
    nums = [int(p) for p in parts] + [0] * (3 - len(parts))
    return nums[0], nums[1], nums[2]


def version_is_compatible(implemented: str | None, requested: str | None) -> bool:
    """True if a server implementing ``implemented`` can serve ``requested``.

    Same major; requested minor at most the implemented one; when the minors
    are equal, the requested revision at most the implemented one.

    Answers for version strings are remembered (a server sees the same few
    pairs on every request); an invalid version raises every time.
    """
    if isinstance(implemented, str) and isinstance(requested, str):
        return _compatible_cached(implemented, requested)
    return _compatible(implemented, requested)


@functools.lru_cache(maxsize=1024)
def _compatible_cached(implemented: str, requested: str) -> bool:
    return _compatible(implemented, requested)


def _compatible(implemented: str | None, requested: str | None) -> bool:
    if implemented is None:
        return True
    if requested is None:
        return False
    imp = parse_version(implemented)
    req = parse_version(requested)
    if imp[0] != req[0] or req[1] > imp[1]:
        return False
    return not (req[1] == imp[1] and req[2] > imp[2])
