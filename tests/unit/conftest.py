"""Fixtures shared by the unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from messaging.transport import Transport, get_transport


@pytest.fixture
def transport() -> Iterator[Transport]:
    """A fake:// transport on a virtual host no other test uses."""
    t = get_transport(None, f"fake:///unit-{uuid.uuid4().hex}")
    try:
        yield t
    finally:
        t.cleanup()
