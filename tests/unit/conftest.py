"""Fixtures shared by the unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

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


@pytest.fixture
def fake_amqp() -> Iterator[Callable[..., Any]]:
    """``fake_amqp(query='')``: the shared AMQP 0-9-1 driver on fake connections.

    Returns ``(driver, factory)`` (see ``amqp091_fake``); every driver is
    cleaned up after the test.
    """
    from amqp091_fake import fake_driver

    made: list[Any] = []

    def make(query: str = "", conf: Any = None) -> Any:
        driver, factory = fake_driver(query, conf)
        made.append(driver)
        return driver, factory

    yield make
    for driver in made:
        driver.cleanup()
