"""The bus of each group of rows: a URL to measure on, and the broker's pid for its CPU.

- ``fake``: an in-memory vhost of its own.
- ``amqp091`` (rabbit:// and pika://): the RabbitMQ node on 127.0.0.1:5672
  (or ``$MESSAGING_BENCH_RABBIT_URL``, loopback only), in a vhost created for
  the run with ``rabbitmqctl`` and deleted afterwards. The node is only
  read from: its CPU through ``/proc``, never signalled or reconfigured.
- ``amqp1``: a private RabbitMQ node with the AMQP 1.0 plugin started for
  the run (``tests/functional/amqp1/amqp1_broker.py``), or
  ``$MESSAGING_BENCH_AMQP1_URL``.
- ``zmq``: brokerless, a matchmaker namespace of its own, purged afterwards.

A bus that cannot be set up raises :class:`BusUnavailable`: its rows fail
with the reason, never silently vanish.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

from messaging.bench import procstat
from messaging.url import TransportURL

HERE = os.path.dirname(os.path.abspath(__file__))


class BusUnavailable(RuntimeError):
    """The bus of a group cannot be reached or started."""


def _reachable(url: str) -> tuple[str, int]:
    host = TransportURL.parse(url).hosts[0]
    address = (host.hostname or "127.0.0.1", host.port or 5672)
    if address[0] not in procstat.LOOPBACK:
        raise BusUnavailable(f"{address[0]}: the bench talks to loopback brokers only")
    try:
        with socket.create_connection(address, timeout=3):
            return address
    except OSError as exc:
        raise BusUnavailable(f"no broker answers on {address[0]}:{address[1]}: {exc}") from None


@contextlib.contextmanager
def _vhost() -> Iterator[str]:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    name = f"bench_{uuid.uuid4().hex[:8]}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ctl, "-q", *args], capture_output=True, text=True, timeout=60)

    try:
        made = run("add_vhost", name)
        if made.returncode == 0:
            made = run("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    except (OSError, subprocess.SubprocessError) as exc:
        raise BusUnavailable(f"cannot create the bench vhost with rabbitmqctl: {exc}") from None
    if made.returncode != 0:
        raise BusUnavailable(f"rabbitmqctl could not create vhost {name}: "
                             f"{made.stderr.strip()}")
    try:
        yield name
    finally:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            run("delete_vhost", name)


@contextlib.contextmanager
def fake() -> Iterator[tuple[str, int | None]]:
    yield f"fake:///bench-{uuid.uuid4().hex[:8]}", None


@contextlib.contextmanager
def amqp091() -> Iterator[tuple[str, int | None]]:
    base = os.environ.get("MESSAGING_BENCH_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
    _, port = _reachable(base)
    with _vhost() as vhost:
        yield base.rstrip("/") + "/" + vhost, procstat.listening_pid(port)


@contextlib.contextmanager
def amqp1() -> Iterator[tuple[str, int | None]]:
    url = os.environ.get("MESSAGING_BENCH_AMQP1_URL")
    if url:
        _, port = _reachable(url)
        yield url, procstat.listening_pid(port)
        return
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "functional", "amqp1"))
    from amqp1_broker import Amqp1Node

    if not os.path.exists(Amqp1Node.SERVER):
        raise BusUnavailable(f"{Amqp1Node.SERVER} not found: no AMQP 1.0 node to measure "
                             f"(or set $MESSAGING_BENCH_AMQP1_URL)")
    node = Amqp1Node()
    try:
        node.start()
        print(f"  amqp: private AMQP 1.0 node started in {node.startup_seconds:.1f} s",
              flush=True)
        yield node.url, procstat.listening_pid(node.port)
    finally:
        node.destroy()


@contextlib.contextmanager
def zmq() -> Iterator[tuple[str, int | None]]:
    from messaging_zmq.matchmaker import purge_namespace

    url = f"zmq:///bench-{uuid.uuid4().hex[:8]}"
    try:
        yield url, None
    finally:
        purge_namespace(url)


BUSES = {"fake": fake, "amqp091": amqp091, "amqp1": amqp1, "zmq": zmq}
