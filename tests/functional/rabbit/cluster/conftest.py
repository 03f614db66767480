"""Fixtures of the cluster suite: one three-node cluster of private nodes per session.

The cluster (``tests/rabbit_cluster.py``) starts once, on free loopback
ports, and is shared by every test; each test gets a vhost of its own on it
(``cluster_vhost``), so queues never leak between tests, and every node is
running and clustered again when a test starts (a test that killed one
need not restart it). Clients reach the nodes through one
:class:`tcp_proxy.TcpProxy` per node (``proxies``), so a test can cut every
connection at once. Tests run once per AMQP 0-9-1 driver (``amqp_driver``
from the parent conftest). The broker on 5672 is never used here.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rabbit_cluster import RETRY_INTERVAL, RabbitCluster, whole
from rabbitmq_local import PrivateNode
from tcp_proxy import TcpProxy

from messaging.testing.plugin import skip_or_fail

#: the drivers (as the parent conftest names them)
AMQP_DRIVERS = {"rabbit": "messaging_rabbit.driver:RabbitDriver",
                "pika": "messaging_pika.driver:PikaDriver"}

#: reconnect options every cluster test uses: faults are noticed and recovered quickly
QUICK = (f"rabbit_retry_interval={RETRY_INTERVAL:g}&rabbit_retry_backoff=0.5"
         f"&rabbit_interval_max=2&kombu_reconnect_delay=0.2&connect_timeout=2"
         "&heartbeat_timeout_threshold=10")

_STARTUP: list[float] = []


@pytest.fixture(scope="session")
def cluster() -> Iterator[RabbitCluster]:
    """The session's three-node cluster (started once; its start-up time is reported)."""
    if not os.path.exists(PrivateNode.SERVER):
        skip_or_fail(f"{PrivateNode.SERVER} not found: cannot start a private cluster")
    c = RabbitCluster(f"cl_{uuid.uuid4().hex[:6]}")
    try:
        c.start()
        assert c.startup_seconds is not None
        _STARTUP.append(c.startup_seconds)
        yield c
    finally:
        c.destroy()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for seconds in _STARTUP:
        terminalreporter.write_line(f"three-node cluster start-up: {seconds:.1f} s")


@pytest.fixture
def cluster_vhost(cluster: RabbitCluster) -> Iterator[str]:
    """A vhost of this test's own on the cluster (all nodes up when the test starts)."""
    whole(cluster)
    name = f"v_{uuid.uuid4().hex[:8]}"
    node = cluster.nodes[0]
    node.ctl("add_vhost", name)
    node.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield name
    whole(cluster)
    next(n for n in cluster.nodes if n.running).ctl("delete_vhost", name)


@pytest.fixture
def proxies(cluster: RabbitCluster) -> Iterator[list[TcpProxy]]:
    """One TCP proxy in front of each node, in node order."""
    made = [TcpProxy(n.port) for n in cluster.nodes]
    yield made
    for p in made:
        p.close()


def node_url(scheme: str, ports: list[int], vhost: str, query: str = QUICK) -> str:
    hosts = ",".join(f"guest:guest@127.0.0.1:{p}" for p in ports)
    return f"{scheme}://{hosts}/{vhost}" + (f"?{query}" if query else "")


@pytest.fixture
def cluster_url(cluster: RabbitCluster, cluster_vhost: str, scheme: str) -> str:
    """The driver's URL listing every node directly (no proxy), with quick reconnects."""
    return node_url(scheme, [n.port for n in cluster.nodes], cluster_vhost)


@pytest.fixture
def proxied_url(proxies: list[TcpProxy], cluster_vhost: str, scheme: str) -> str:
    """The driver's URL listing every node through its proxy, with quick reconnects."""
    return node_url(scheme, [p.port for p in proxies], cluster_vhost)


@pytest.fixture
def make_cluster_driver(scheme: str) -> Iterator[Callable[[str], Any]]:
    """Build drivers of the driver under test for a cluster URL; cleaned up after the test."""
    from importlib import import_module

    from messaging.url import TransportURL

    module, _, name = AMQP_DRIVERS[scheme].partition(":")
    cls = getattr(import_module(module), name)
    made: list[Any] = []

    def make(url: str) -> Any:
        driver = cls(None, TransportURL.parse(url), default_exchange="openstack")
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.cleanup()


class Consumer:
    """Polls a listener in a thread, acks each message, records it (and when it came)."""

    def __init__(self, listener: Any, handler: Callable[[Any], Any] | None = None) -> None:
        self.listener = listener
        self.handler = handler
        self.seen: list[tuple[float, Any]] = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from messaging.driver import Reply

        while not self._stop:
            for msg in self.listener.poll(timeout=0.2, max_messages=50):
                msg.acknowledge()
                with self._lock:
                    self.seen.append((time.monotonic(), msg.message))
                if self.handler is not None:
                    result = self.handler(msg)
                    if getattr(msg, "wants_reply", False):
                        msg.reply(Reply(result=result))

    def count(self) -> int:
        with self._lock:
            return len(self.seen)

    def first_after(self, when: float) -> float | None:
        with self._lock:
            return next((t for t, _ in self.seen if t > when), None)

    def stop(self) -> None:
        self._stop = True
        self.listener.stop()
        self._thread.join(5)
        self.listener.cleanup()


@pytest.fixture
def consume() -> Iterator[Callable[..., Consumer]]:
    made: list[Consumer] = []

    def start(listener: Any, handler: Callable[[Any], Any] | None = None) -> Consumer:
        c = Consumer(listener, handler)
        made.append(c)
        return c

    yield start
    for c in made:
        c.stop()
