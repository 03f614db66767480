"""Fixtures for the zmq driver's functional tests: both matchmakers, servers in child processes.

Each test gets a namespace of its own (the URL's virtual host), so its
matchmaker entries never meet another test's or another run's; the
namespace is purged afterwards (Redis keys under ``messaging-zmq:<ns>:``,
the local matchmaker's directory). Redis is the shared one on
127.0.0.1:6379: without it the redis variants skip, unless
``MESSAGING_REQUIRE_BROKERS=1`` (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from messaging_zmq.matchmaker import purge_namespace
from messaging_zmq.matchmaker.redis import unreachable

from messaging.testing.plugin import skip_or_fail
from messaging.transport import Transport, get_rpc_transport

REDIS = ("127.0.0.1", 6379)
PEER = Path(__file__).with_name("zmq_peer.py")
#: Seconds to wait for a child process or a delivery.
WAIT = 20.0
RUN_ID = f"func{os.getpid()}{uuid.uuid4().hex[:6]}"


def redis_problem() -> str | None:
    """None if Redis answers on 127.0.0.1:6379, else why not."""
    return unreachable(*REDIS)


def make_url(matchmaker: str, namespace: str, **options: Any) -> str:
    """A transport URL of ``matchmaker`` in ``namespace`` with query ``options``."""
    base = (f"zmq+redis://{REDIS[0]}:{REDIS[1]}/{namespace}" if matchmaker == "redis"
            else f"zmq:///{namespace}")
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"{base}?{query}" if query else base


@pytest.fixture
def redis_available() -> None:
    """Skip (or in CI fail) when Redis does not answer on 127.0.0.1:6379."""
    problem = redis_problem()
    if problem is not None:
        skip_or_fail(problem)


@pytest.fixture(params=["local", "redis"])
def matchmaker(request: pytest.FixtureRequest) -> str:
    """Each test runs with the local matchmaker and with Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_available")
    return str(request.param)


@pytest.fixture
def namespace(matchmaker: str) -> Iterator[str]:
    """A namespace for this test, purged afterwards."""
    name = f"{RUN_ID}-{uuid.uuid4().hex[:8]}"
    yield name
    purge_namespace(make_url(matchmaker, name))


@pytest.fixture
def url(matchmaker: str, namespace: str) -> str:
    """The test's transport URL."""
    return make_url(matchmaker, namespace)


@pytest.fixture
def topic() -> str:
    """A topic no other test uses."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def transports() -> Iterator[Callable[..., Transport]]:
    """Build transports (``make(url)``), all cleaned up after the test."""
    made: list[Transport] = []

    def make(url: str, **kwargs: Any) -> Transport:
        transport = get_rpc_transport(None, url, **kwargs)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.cleanup()


@pytest.fixture
def stranger() -> Iterator[Callable[[str], Any]]:
    """Raw ZeroMQ DEALERs (``stranger(address)``): peers that are not this driver."""
    import zmq

    ctx = zmq.Context()

    def connect(address: str) -> Any:
        sock = ctx.socket(zmq.DEALER)
        sock.connect(address)
        return sock

    yield connect
    ctx.destroy(linger=0)


class Peer:
    """A child process running servers (see ``zmq_peer.py``), with its events."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = spec["name"]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, str(PEER), json.dumps(spec)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self.events.append({"event": "exited"})
            self._cond.notify_all()

    def wait_event(self, predicate: Callable[[dict[str, Any]], bool], count: int = 1,
                   timeout: float = WAIT) -> list[dict[str, Any]]:
        """Block until ``count`` events match ``predicate``; fail after ``timeout``."""
        with self._cond:
            def matching() -> list[dict[str, Any]]:
                return [e for e in self.events if predicate(e)]
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(f"{self.name}: expected {count} matching events within "
                                     f"{timeout}s; got {self.events!r}")
            return matching()

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The events of ``kind`` seen so far."""
        with self._cond:
            return [e for e in self.events if e.get("event") == kind]

    def ready(self) -> Peer:
        """Wait until the child's servers are started and registered."""
        [ready] = self.wait_event(lambda e: e.get("event") in ("ready", "exited"))
        if ready["event"] != "ready":
            raise AssertionError(f"{self.name} exited before it was ready")
        assert ready["consuming"], f"{self.name} is not registered in the matchmaker"
        return self

    def stop(self) -> None:
        """Close the child's stdin: it stops its servers and exits."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the child dies without unregistering anything."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)


@pytest.fixture
def peers() -> Iterator[Callable[..., Peer]]:
    """Start server processes (``start(name, url, rpc=[...], notify=[...])``), stopped after."""
    started: list[Peer] = []

    def start(name: str, url: str, rpc: Sequence[tuple[str, str]] = (),
              notify: Sequence[tuple[str, str | None]] = (), ready: bool = True) -> Peer:
        spec = {"name": name, "url": url,
                "rpc": [{"topic": t, "server": s} for t, s in rpc],
                "notify": [{"topic": t, "pool": p} for t, p in notify]}
        peer = Peer(spec)
        started.append(peer)
        return peer.ready() if ready else peer

    yield start
    for peer in started:
        peer.stop()
