"""Connections spread over the URL's hosts: each one shuffles them (as oslo.messaging does).

With every connection starting at the first host, one node of a cluster
carried every connection (and led every queue its clients declared), so
losing it broke all of them at once. Checked on the pure function and on
both drivers' real connections, against three loopback listeners that
record which one each new connection reaches first.
"""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter

import pytest
from messaging_amqp091.options import load_settings
from messaging_amqp091.recovery import spread_hosts

from messaging.testing.helpers import wait_for
from messaging.url import TransportURL


def test_spread_hosts_is_a_permutation_that_varies() -> None:
    hosts = ["a", "b", "c"]
    rng = random.Random(7)
    orders = [spread_hosts(hosts, rng) for _ in range(300)]
    assert all(sorted(o) == hosts for o in orders)
    assert hosts == ["a", "b", "c"]  # the caller's list is left alone
    firsts = Counter(o[0] for o in orders)
    assert set(firsts) == set(hosts)
    assert min(firsts.values()) > 60  # about 100 each; the first host is not favoured
    assert len({tuple(o) for o in orders}) == 6


def test_spread_hosts_of_one_or_none() -> None:
    assert spread_hosts(["only"]) == ["only"]
    assert spread_hosts([]) == []


class Listeners:
    """Three loopback ports that accept and drop every connection, noting which port."""

    def __init__(self) -> None:
        self.socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(3)]
        self.ports = [s.getsockname()[1] for s in self.socks]
        self.hits: list[int] = []
        self._cond = threading.Condition()
        self._stop = False
        for sock, port in zip(self.socks, self.ports, strict=True):
            sock.settimeout(0.2)
            threading.Thread(target=self._serve, args=(sock, port), daemon=True).start()

    def _serve(self, sock: socket.socket, port: int) -> None:
        while not self._stop:
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.close()
            with self._cond:
                self.hits.append(port)
                self._cond.notify_all()

    def close(self) -> None:
        self._stop = True
        for sock in self.socks:
            sock.close()


@pytest.mark.parametrize("scheme,factory", [
    ("rabbit", "messaging_rabbit.connection:KombuConnection"),
    ("pika", "messaging_pika.connection:PikaConnection"),
])
def test_each_connection_starts_at_a_random_host(scheme: str, factory: str) -> None:
    import importlib

    module, _, name = factory.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as exc:  # the driver's client library is not installed
        pytest.skip(f"{scheme}: {exc}")
    listeners = Listeners()
    try:
        hosts = ",".join(f"guest:guest@127.0.0.1:{p}" for p in listeners.ports)
        url = TransportURL.parse(f"{scheme}://{hosts}/v?connect_timeout=1"
                                 "&rabbit_retry_interval=5&kombu_reconnect_delay=5")
        settings = load_settings(None, url)
        firsts: Counter[int] = Counter()
        for _ in range(36):
            seen = len(listeners.hits)
            conn = cls(settings, url, purpose="client")
            conn.start()
            wait_for(lambda seen=seen: len(listeners.hits) > seen, timeout=10, interval=0.01,
                     message="the connection's first attempt")
            firsts[listeners.hits[seen]] += 1
            conn.close(timeout=5)
    finally:
        listeners.close()
    # All three hosts come first for some connections (a fixed order gives one host 36).
    assert set(firsts) == set(listeners.ports), firsts
    assert max(firsts.values()) < 30, firsts
