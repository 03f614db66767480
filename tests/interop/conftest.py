"""Fixtures for wire-compatibility tests against the real oslo.messaging 18.x.

Both libraries talk through RabbitMQ on 127.0.0.1:5672 in a private vhost
made for the session (deleted afterwards), on unique topics. Our side runs
once per AMQP 0-9-1 driver (``ours``: ``rabbit`` over kombu, ``pika``), so
every test against oslo.messaging holds for both; ``other_transport`` is the
other driver, for pika <-> kombu tests. Without the
broker or oslo.messaging the tests skip with the reason, unless
``MESSAGING_REQUIRE_BROKERS=1`` (CI), where a missing broker fails them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rabbitmq_local import private_vhost, vhost_url

import messaging
from messaging.testing.helpers import wait_for
from messaging.testing.plugin import skip_or_fail


@pytest.fixture(scope="session")
def oslo() -> Any:
    """The real ``oslo_messaging`` module (a test-only dependency)."""
    from importlib import metadata

    try:
        version = metadata.version("oslo.messaging")
    except metadata.PackageNotFoundError:
        skip_or_fail("oslo.messaging is not installed (pip install 'oslo.messaging>=18,<19')")
    if int(version.split(".")[0]) != 18:
        skip_or_fail(f"oslo.messaging {version} installed; these tests target 18.x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oslo_messaging
    return oslo_messaging


@pytest.fixture(scope="session")
def vhost() -> Iterator[str]:
    """A private vhost for the session."""
    with private_vhost("messaging_interop") as name:
        yield name


@pytest.fixture
def url(vhost: str) -> str:
    """Transport URL of the private vhost (the same string works for both libraries)."""
    return vhost_url(vhost)


@pytest.fixture
def topic() -> str:
    return f"interop_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def oslo_conf(oslo: Any) -> Any:
    """A private oslo.config object with what oslo.messaging needs registered."""
    from oslo_config import cfg
    from oslo_messaging._metrics.client import oslo_messaging_metrics
    from oslo_messaging._tracing.client import oslo_messaging_tracing

    # oslo registers these on the global cfg.CONF only; a private conf needs them too.
    conf = cfg.ConfigOpts()
    conf.register_opts(oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf([])
    return conf


@pytest.fixture
def oslo_transport(oslo: Any, oslo_conf: Any, url: str) -> Iterator[Any]:
    """oslo.messaging's RPC transport on the vhost."""
    transport = oslo.get_rpc_transport(oslo_conf, url=url)
    yield transport
    transport.cleanup()


@pytest.fixture
def oslo_notification_transport(oslo: Any, oslo_conf: Any, url: str) -> Iterator[Any]:
    transport = oslo.get_notification_transport(oslo_conf, url=url)
    yield transport
    transport.cleanup()


#: Our AMQP 0-9-1 drivers, by URL scheme.
OURS = ("rabbit", "pika")


@pytest.fixture(params=OURS)
def ours(request: pytest.FixtureRequest) -> str:
    """The scheme of our driver under test (``rabbit`` or ``pika``)."""
    return str(request.param)


def _our_url(url: str, scheme: str) -> str:
    return url.replace("rabbit://", f"{scheme}://", 1)


@pytest.fixture
def transport(url: str, ours: str) -> Iterator[messaging.Transport]:
    """Our RPC transport on the vhost."""
    t = messaging.get_rpc_transport(None, _our_url(url, ours))
    yield t
    t.cleanup()


@pytest.fixture
def notification_transport(url: str, ours: str) -> Iterator[messaging.Transport]:
    t = messaging.get_notification_transport(None, _our_url(url, ours))
    yield t
    t.cleanup()


@pytest.fixture
def other_transport(url: str, ours: str) -> Iterator[messaging.Transport]:
    """Our other AMQP 0-9-1 driver's RPC transport (pika for rabbit, rabbit for pika)."""
    other = next(s for s in OURS if s != ours)
    t = messaging.get_rpc_transport(None, _our_url(url, other))
    yield t
    t.cleanup()


@pytest.fixture
def other_notification_transport(url: str, ours: str) -> Iterator[messaging.Transport]:
    other = next(s for s in OURS if s != ours)
    t = messaging.get_notification_transport(None, _our_url(url, other))
    yield t
    t.cleanup()


@pytest.fixture
def running() -> Iterator[Callable[[Any], Any]]:
    """Start servers (ours or oslo's: same start/stop/wait API); all stopped after the test."""
    servers: list[Any] = []

    def start(server: Any) -> Any:
        server.start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop()
        server.wait()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "it") -> Any:
    """Poll ``predicate`` until truthy; fail after ``timeout`` (the kit's wait_for)."""
    return wait_for(predicate, timeout, 0.02, message=what)


@pytest.fixture
def wait() -> Callable[..., Any]:
    """``wait(predicate, timeout=10, what=...)``: poll with a deadline."""
    return wait_until


@pytest.fixture
def capture(url: str) -> Iterator[Callable[[str], Callable[[], Any]]]:
    """``capture(routing_key)`` declares an oslo-style queue; returns a function to grab from it."""
    import kombu

    conn = kombu.Connection(url.replace("rabbit://", "amqp://"))
    channel = conn.channel()

    def declare(key: str) -> Callable[[], Any]:
        exchange = kombu.Exchange("openstack", "topic", durable=False)
        kombu.Queue(key, exchange, key, durable=False, channel=channel).declare()

        def grab() -> Any:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                msg = channel.basic_get(key, no_ack=True)
                if msg is not None:
                    return msg
                time.sleep(0.01)
            raise AssertionError(f"nothing on {key}")
        return grab

    yield declare
    conn.release()


PEER = str(Path(__file__).with_name("oslo_peer.py"))


class Peer:
    """``oslo_peer.py`` in a session of its own (oslo's queue manager reads the
    ``/proc/<pgid>/stat`` of its process group leader); JSON lines from its stdout."""

    def __init__(self, lock_path: str, *args: str) -> None:
        # oslo's queue manager takes an oslo.concurrency external lock: it needs a lock path.
        env = dict(os.environ, OSLO_LOCK_PATH=lock_path)
        self.proc = subprocess.Popen([sys.executable, PEER, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env,
                                     start_new_session=True)

    def line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        text = self.proc.stdout.readline()  # bounded: the peer's calls time out in 30 s
        if not text:
            self.proc.wait(30)
            raise AssertionError(f"oslo peer exited with {self.proc.returncode}")
        return json.loads(text)

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture
def peers(oslo: Any, tmp_path: Any) -> Iterator[Callable[..., Peer]]:
    """Start oslo.messaging peers (``oslo_peer.py server|client ...``); closed after the test."""
    made: list[Peer] = []
    locks = tmp_path / "oslo-locks"
    locks.mkdir()

    def start(*args: str) -> Peer:
        made.append(Peer(str(locks), *args))
        return made[-1]

    yield start
    for peer in made:
        peer.close()
