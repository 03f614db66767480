"""Fixtures for the AMQP 1.0 driver's functional tests (a private RabbitMQ node, plugin on).

``tox -e func-amqp1`` starts the node once (``tools/amqp1_node.py``) and
hands it over in ``MESSAGING_AMQP1_NODE``; run directly, pytest starts one
for the session. Tests that stop their broker get a node of their own
(``own_node``). Without ``rabbitmq-server`` the tests skip with the reason,
unless ``MESSAGING_REQUIRE_BROKERS=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from amqp1_broker import NODE_ENV, Amqp1Node, RemoteNode

from messaging.testing.plugin import skip_or_fail
from messaging.transport import Transport, get_transport


def _require_server() -> None:
    if not os.path.exists(Amqp1Node.SERVER):
        skip_or_fail(f"{Amqp1Node.SERVER} not found: cannot start a RabbitMQ node with the "
                     f"AMQP 1.0 plugin")
    try:
        import proton  # noqa: F401
    except ImportError as exc:
        skip_or_fail(f"python-qpid-proton is not installed: {exc}")


@pytest.fixture(scope="session")
def node() -> Iterator[Any]:
    """The session's AMQP 1.0 node (the launcher's, or one started here)."""
    described = os.environ.get(NODE_ENV)
    if described:
        yield RemoteNode(described)
        return
    _require_server()
    started = Amqp1Node()
    try:
        started.start()
        yield started
    finally:
        started.destroy()


@pytest.fixture(scope="module")
def own_node() -> Iterator[Amqp1Node]:
    """A node for this module alone (tests stop and start it); running when a test starts."""
    _require_server()
    made = Amqp1Node()
    try:
        made.start()
        yield made
    finally:
        made.destroy()


@pytest.fixture
def own(own_node: Amqp1Node) -> Amqp1Node:
    """:func:`own_node`, started again if a previous test left it stopped."""
    if not own_node.running:
        own_node.start()
    return own_node


@pytest.fixture
def url(node: Any) -> str:
    """The transport URL of the session's node."""
    return str(node.url)


@pytest.fixture
def topic() -> str:
    """A topic no other test uses."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_transport(url: str) -> Iterator[Callable[..., Transport]]:
    """Build transports (``make_transport(query='a=1', url=...)``); cleaned up after the test."""
    made: list[Transport] = []

    def make(query: str = "", url_: str | None = None, conf: Any = None) -> Transport:
        text = url_ or url
        if query:
            text += ("&" if "?" in text else "?") + query
        transport = get_transport(conf, text)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.cleanup()


@pytest.fixture
def transport(make_transport: Callable[..., Transport]) -> Transport:
    """A transport on the session's node with default options."""
    return make_transport()


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

