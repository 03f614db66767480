"""Fixtures for the RabbitMQ suites of both AMQP 0-9-1 drivers (real broker on 127.0.0.1:5672).

One layout for ``rabbit://`` (kombu) and ``pika://``: every test that uses
``url``, ``scheme``, ``driver`` or ``make_driver`` runs once per driver,
through the ``amqp_driver`` parameter (``[rabbit]``, ``[pika]`` in test ids).
``MESSAGING_AMQP_DRIVERS`` (comma-separated) picks which ones run: tox's
``func-rabbit`` sets ``rabbit``, ``func-pika`` sets ``pika``; unset, both
run. A test about one driver's own I/O says so with
``@pytest.mark.amqp091_driver("rabbit")``.

Raw inspection and injection use kombu directly (``raw_url``), so checks do
not depend on either driver's parsing. Without a reachable broker the tests
skip with the reason, unless ``MESSAGING_REQUIRE_BROKERS=1`` (CI), where
they fail. Each session gets a private vhost (``rabbitmqctl add_vhost``),
deleted at the end, and each test unique topic names, so runs never collide
with each other or with the conformance kit.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rabbitmq_local import PrivateNode, ctl, free_port, private_vhost, vhost_url

from messaging.driver import Driver, IncomingMessage, Listener, Reply
from messaging.testing.helpers import wait_for
from messaging.testing.plugin import skip_or_fail
from messaging.url import TransportURL

#: The AMQP 0-9-1 drivers: URL scheme -> driver class (imported when a test needs it).
AMQP_DRIVERS = {"rabbit": "messaging_rabbit.driver:RabbitDriver",
                "pika": "messaging_pika.driver:PikaDriver"}


def selected_drivers() -> list[str]:
    """The drivers ``MESSAGING_AMQP_DRIVERS`` asks for (default: all)."""
    names = [n.strip() for n in os.environ.get("MESSAGING_AMQP_DRIVERS", "").split(",")
             if n.strip()] or list(AMQP_DRIVERS)
    unknown = sorted(set(names) - set(AMQP_DRIVERS))
    if unknown:
        raise pytest.UsageError(f"MESSAGING_AMQP_DRIVERS: unknown driver(s) {unknown}; "
                                f"known: {sorted(AMQP_DRIVERS)}")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that needs a driver once per selected driver (its marker may narrow it)."""
    if "amqp_driver" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("amqp091_driver")
    names = [n for n in selected_drivers() if marker is None or n in marker.args]
    metafunc.parametrize("amqp_driver", names, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests about a driver this run does not select (not a skip: nothing is missing)."""
    selected = set(selected_drivers())
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("amqp091_driver")
        (drop if marker is not None and not selected & set(marker.args) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def driver_class(scheme: str) -> type[Driver]:
    """The driver class of ``scheme`` (``rabbit`` or ``pika``)."""
    import importlib

    module, _, name = AMQP_DRIVERS[scheme].partition(":")
    cls: type[Driver] = getattr(importlib.import_module(module), name)
    return cls


@pytest.fixture(scope="session")
def driver_cls(amqp_driver: str) -> type[Driver]:
    """The class of the driver under test."""
    return driver_class(amqp_driver)


@pytest.fixture(scope="session")
def scheme(amqp_driver: str) -> str:
    """The URL scheme of the driver under test (``rabbit`` or ``pika``)."""
    return amqp_driver


def ctl_json(*args: str, vhost: str | None = None) -> list[dict[str, Any]]:
    """``rabbitmqctl list_*`` as a list of dicts (``--formatter json``)."""
    text = ctl(*args, "--formatter", "json", vhost=vhost).strip()
    return json.loads(text) if text else []


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
               what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; fail after ``timeout`` seconds (the kit's wait_for)."""
    return wait_for(predicate, timeout, interval, message=what)


@pytest.fixture(scope="session")
def vhost() -> Iterator[str]:
    """A private vhost for the session, deleted at the end."""
    with private_vhost("messaging_func") as name:
        yield name


@pytest.fixture
def url(vhost: str, scheme: str) -> str:
    """The transport URL of the private vhost, for the driver under test."""
    return vhost_url(vhost).replace("rabbit://", f"{scheme}://", 1)


@pytest.fixture
def raw_url(vhost: str) -> str:
    """The private vhost as a kombu URL, for raw inspection and injection."""
    return vhost_url(vhost).replace("rabbit://", "amqp://", 1)


@pytest.fixture
def topic() -> str:
    """A topic no other test uses."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_driver(url: str, scheme: str) -> Iterator[Callable[..., Any]]:
    """Build drivers (``make_driver(query='a=1', url_=...)``); all cleaned up after the test.

    ``url_`` may use any scheme: the driver under test is built for it.
    """
    made: list[Driver] = []
    cls = driver_class(scheme)

    def make(query: str = "", url_: str | None = None, conf: Any = None,
             default_exchange: str = "openstack") -> Any:
        text = url_ or url
        if query:
            text += ("&" if "?" in text else "?") + query
        parsed = TransportURL.parse(text)
        driver = cls(conf, parsed, default_exchange=default_exchange)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.cleanup()


@pytest.fixture
def driver(make_driver: Callable[..., Any]) -> Any:
    """A driver on the private vhost with default options."""
    return make_driver()


class SpiServer:
    """A minimal server loop on the driver interface: poll, ack, run ``handler``, reply.

    ``handler(message)`` runs in the polling thread and returns the result
    (or a whole :class:`Reply`, e.g. with a failure). Everything received is
    recorded.
    """

    def __init__(self, listener: Listener,
                 handler: Callable[[IncomingMessage], Any] | None = None,
                 ack: bool = True) -> None:
        self.listener = listener
        self.handler = handler or (lambda m: m.message.get("args"))
        self.ack = ack
        self.received: list[IncomingMessage] = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            for msg in self.listener.poll(timeout=0.2):
                if self.ack:
                    msg.acknowledge()
                with self._cond:
                    self.received.append(msg)
                    self._cond.notify_all()
                value = self.handler(msg)
                result = value if isinstance(value, Reply) else Reply(result=value)
                reply = getattr(msg, "reply", None)
                if reply is not None and getattr(msg, "wants_reply", False):
                    reply(result)

    def wait_count(self, count: int, timeout: float = 10.0) -> list[IncomingMessage]:
        return self.wait_until(lambda got: len(got) >= count, timeout, f"{count} messages")

    def wait_until(self, done: Callable[[list[IncomingMessage]], bool], timeout: float,
                   what: str) -> list[IncomingMessage]:
        """Wait until ``done(received)`` holds; everything received so far."""
        with self._cond:
            if not self._cond.wait_for(lambda: done(self.received), timeout):
                raise AssertionError(f"expected {what} in {timeout}s, got "
                                     f"{len(self.received)}: {self.received[-3:]}")
            return list(self.received)

    def stop(self) -> None:
        self._stop = True
        self.listener.stop()
        self._thread.join(5)
        self.listener.cleanup()


@pytest.fixture
def serve() -> Iterator[Callable[..., SpiServer]]:
    """Start :class:`SpiServer` loops; all stopped after the test."""
    servers: list[SpiServer] = []

    def start(listener: Listener, handler: Callable[[IncomingMessage], Any] | None = None,
              ack: bool = True) -> SpiServer:
        server = SpiServer(listener, handler, ack)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Rabbit:
    """rabbitmqctl helpers bound to the session's vhost (the ``rmq`` fixture)."""

    def __init__(self, vhost: str) -> None:
        self.vhost = vhost

    ctl = staticmethod(ctl)
    ctl_json = staticmethod(ctl_json)
    wait_until = staticmethod(wait_until)
    free_port = staticmethod(free_port)

    def queues(self) -> dict[str, dict[str, Any]]:
        """Queues of the vhost by name: durable, auto_delete, arguments (a dict), messages."""
        rows = ctl_json("list_queues", "name", "durable", "auto_delete", "arguments",
                        "messages", "consumers", vhost=self.vhost)
        for row in rows:
            row["arguments"] = {a[0]: a[-1] for a in row.get("arguments") or []}
        return {row["name"]: row for row in rows}

    def exchanges(self) -> dict[str, dict[str, Any]]:
        """Exchanges of the vhost by name: type, durable, auto_delete, arguments."""
        rows = ctl_json("list_exchanges", "name", "type", "durable", "auto_delete", "arguments",
                        vhost=self.vhost)
        return {row["name"]: row for row in rows}

    def bindings(self) -> set[tuple[str, str, str]]:
        """(exchange, queue, routing key) of every binding in the vhost."""
        rows = ctl_json("list_bindings", "source_name", "destination_name", "routing_key",
                        vhost=self.vhost)
        return {(r["source_name"], r["destination_name"], r["routing_key"]) for r in rows}

    def connections(self) -> dict[str, dict[str, Any]]:
        """Connections to the vhost by their ``connection_name``."""
        out = {}
        for row in ctl_json("list_connections", "peer_port", "vhost", "client_properties",
                            "state"):
            if row.get("vhost") != self.vhost:
                continue
            for item in row.get("client_properties") or []:
                if isinstance(item, list) and item and item[0] == "connection_name":
                    out[item[-1]] = row
        return out

    def close_connection(self, name: str, reason: str = "closed by test") -> None:
        """Have the broker close the connection whose ``connection_name`` is ``name``."""
        row = self.connections().get(name)
        if row is None:
            raise AssertionError(f"no connection named {name}")
        # The JSON formatter mangles pids; the plain listing gives them as the CLI wants.
        for line in ctl("list_connections", "--no-table-headers", "pid", "peer_port").splitlines():
            pid, _, port = line.rpartition("\t")
            if port.strip() == str(row["peer_port"]):
                ctl("close_connection", pid.strip(), reason)
                return
        raise AssertionError(f"connection {name} vanished")


@pytest.fixture
def rmq(vhost: str) -> Rabbit:
    """rabbitmqctl helpers for the session's vhost."""
    return Rabbit(vhost)


@pytest.fixture(scope="session")
def _private_node(vhost: str) -> Iterator[PrivateNode]:
    if not os.path.exists(PrivateNode.SERVER):
        skip_or_fail(f"{PrivateNode.SERVER} not found: cannot start a private node")
    node = PrivateNode(vhost)
    try:
        yield node
    finally:
        node.destroy()


@pytest.fixture
def private_node(_private_node: PrivateNode) -> PrivateNode:
    """A private RabbitMQ node (shared by the session), running when the test starts."""
    _private_node.start()
    return _private_node


@pytest.fixture(scope="session")
def private_node_class() -> type[PrivateNode]:
    """:class:`PrivateNode`, for tests that need a node of their own (e.g. TLS)."""
    if not os.path.exists(PrivateNode.SERVER):
        skip_or_fail(f"{PrivateNode.SERVER} not found: cannot start a private node")
    return PrivateNode
