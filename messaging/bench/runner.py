"""Run one bench scenario against a transport URL and measure it.

Scenarios (the client side; the server is :mod:`messaging.bench.server`):

- ``call``: sequential ``RPCClient.call``; rate, and latency per call.
- ``call-concurrent``: ``concurrency`` threads calling at once (the only
  scenario that takes a concurrency).
- ``cast``: sequential ``RPCClient.cast`` (each taken by the bus, confirmed
  where the driver confirms), timed until the server handled them all.
- ``notify``: sequential ``Notifier.info``, timed until the listener
  handled them all.

CPU per message is measured on each side (``os.times`` of each process) and
on the broker when it runs on this machine (:mod:`messaging.bench.procstat`);
with ``fake://`` both sides share one process and only the total is known.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from .. import Notifier, Target, get_notification_transport, get_rpc_client, get_rpc_transport
from ..exceptions import MessagingException
from ..url import TransportURL
from . import procstat
from .protocol import ServerProcess, process_cpu

__all__ = ["SCENARIOS", "BenchResult", "run_scenario", "server_command"]

SCENARIOS = ("call", "call-concurrent", "cast", "notify")
WARMUP = 50
#: Seconds the server may take to handle what was sent before the run is declared failed.
DRAIN_TIMEOUT = 120.0
DEFAULT_CONCURRENCY = 8
Progress = Callable[[int, int], None]


@dataclass
class BenchResult:
    """The figures of one run (latencies in milliseconds, CPU in microseconds per message).

    Latency is per operation as the caller sees it: a call's round trip, a
    cast's or notification's hand-over to the bus. With the server in the
    same process, ``client_cpu_us`` covers both sides and ``server_cpu_us``
    is None; ``broker_cpu_us`` is None when the broker is not a process of
    this machine (or there is none).
    """

    scenario: str
    url: str
    n: int
    concurrency: int
    payload: int
    seconds: float
    rate: float
    p50_ms: float | None
    p99_ms: float | None
    client_cpu_us: float
    server_cpu_us: float | None
    broker_cpu_us: float | None
    server_process: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return asdict(self)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000.0


def server_command(topic: str, kind: str) -> list[str]:
    """The bench server's command line: no URL on it (the URL goes in the environment)."""
    return [sys.executable, "-m", "messaging.bench.server", topic, kind]


class _Server(Protocol):
    in_process: bool

    def reset(self) -> None: ...

    def wait(self, n: int, timeout: float) -> dict[str, Any]: ...

    def close(self) -> None: ...


class _LocalServer:
    """The bench server in this process: for ``fake://``, whose bus is in memory."""

    in_process = True

    def __init__(self, url: str, topic: str, kind: str) -> None:
        # Imported here: ``python -m messaging.bench.server`` must not find it imported.
        from .server import BenchServer

        self._server = BenchServer(url, topic, kind)
        self._server.start()

    def reset(self) -> None:
        self._server.counter.reset()

    def wait(self, n: int, timeout: float) -> dict[str, Any]:
        handled, last = self._server.counter.wait(n, timeout)
        return {"handled": handled, "last": last}

    def close(self) -> None:
        self._server.stop()


class _RemoteServer(ServerProcess):
    in_process = False


def _start_server(url: str, topic: str, kind: str) -> _Server:
    if TransportURL.parse(url).scheme == "fake":
        return _LocalServer(url, topic, kind)
    return _RemoteServer(server_command(topic, kind), url)


#: The port a broker of these schemes listens on when the URL names none.
_DEFAULT_PORTS = {"rabbit": 5672, "kombu": 5672, "pika": 5672, "amqp": 5672}


def _broker_pid(url: str) -> int | None:
    """The pid of the broker of ``url`` when it is a process of this machine, else None."""
    parsed = TransportURL.parse(url)
    if not parsed.hosts or parsed.scheme not in _DEFAULT_PORTS:
        return None  # in memory, brokerless (zmq) or unknown
    host = parsed.hosts[0]
    if (host.hostname or "localhost") not in procstat.LOOPBACK:
        return None
    return procstat.listening_pid(host.port or _DEFAULT_PORTS[parsed.scheme])


def run_scenario(url: str, scenario: str, n: int = 2000, concurrency: int | None = None,
                 payload: int = 100, progress: Progress | None = None,
                 timeout: float = 30.0) -> BenchResult:
    """Measure ``scenario`` (one of :data:`SCENARIOS`) on ``url`` with ``n`` messages.

    ``concurrency`` (threads) applies to ``call-concurrent`` only (default
    8); giving it for another scenario is an error, not silently ignored.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    if concurrency is not None and scenario != "call-concurrent":
        raise ValueError(f"--concurrency applies to the call-concurrent scenario only, not "
                         f"to {scenario!r}")
    threads = DEFAULT_CONCURRENCY if concurrency is None else concurrency
    if n < 1 or threads < 1 or payload < 0:
        raise ValueError("n and the concurrency must be at least 1, the payload at least 0")
    topic = f"bench_{uuid.uuid4().hex[:10]}"
    data = "x" * payload
    kind = "notify" if scenario == "notify" else "rpc"
    server = _start_server(url, topic, kind)
    broker = _broker_pid(url)
    latencies: list[float] = []
    try:
        if kind == "notify":
            transport = get_notification_transport(None, url)
            notifier = Notifier(transport, "bench", driver="messagingv2", topics=[topic])

            def one() -> None:
                notifier.info({}, "bench.event", {"data": data})
        else:
            transport = get_rpc_transport(None, url)
            client = get_rpc_client(transport, Target(topic=topic), timeout=timeout)
            if scenario == "cast":
                def one() -> None:
                    client.cast({}, "sink", data=data)
            else:
                def one() -> None:
                    client.call({}, "echo", data=data)
        try:
            for _ in range(WARMUP):
                one()
            server.wait(WARMUP, DRAIN_TIMEOUT)
            server.reset()
            broker0 = procstat.cpu_seconds(broker) if broker else None
            cpu0 = process_cpu()
            began = time.monotonic()
            if scenario == "call-concurrent":
                _concurrently(one, n, threads, latencies, progress)
            else:
                _sequentially(one, n, latencies, progress)
            client_cpu = process_cpu() - cpu0
            sent = time.monotonic()
            report = server.wait(n, DRAIN_TIMEOUT)
            broker1 = procstat.cpu_seconds(broker) if broker else None
        finally:
            transport.cleanup()
        if report.get("handled", 0) < n:
            raise MessagingException(f"the server handled {report.get('handled')} of {n} "
                                     f"messages within {DRAIN_TIMEOUT:.0f} s")
    finally:
        server.close()
    seconds = max(sent, report["last"]) - began
    if server.in_process:  # the server's CPU is in this process's figure
        client_cpu = process_cpu() - cpu0
    broker_cpu = None if broker0 is None or broker1 is None else broker1 - broker0
    return BenchResult(
        scenario=scenario, url=TransportURL.parse(url).render(mask=True), n=n,
        concurrency=threads if scenario == "call-concurrent" else 1, payload=payload,
        seconds=seconds, rate=n / seconds,
        p50_ms=_percentile(latencies, 0.5), p99_ms=_percentile(latencies, 0.99),
        client_cpu_us=client_cpu / n * 1e6,
        server_cpu_us=None if server.in_process else float(report["cpu"]) / n * 1e6,
        broker_cpu_us=None if broker_cpu is None else broker_cpu / n * 1e6,
        server_process="same process (in-memory bus)" if server.in_process else "own process")


def _sequentially(one: Callable[[], None], n: int, latencies: list[float],
                  progress: Progress | None) -> None:
    step = max(n // 100, 1)
    clock = time.perf_counter
    for i in range(n):
        t0 = clock()
        one()
        latencies.append(clock() - t0)
        if progress is not None and i % step == 0:
            progress(i, n)
    if progress is not None:
        progress(n, n)


def _concurrently(one: Callable[[], None], n: int, concurrency: int, latencies: list[float],
                  progress: Progress | None) -> None:
    counts = [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]
    done = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        mine: list[float] = []
        clock = time.perf_counter
        try:
            for _ in range(k):
                t0 = clock()
                one()
                mine.append(clock() - t0)
                with lock:
                    done[0] += 1
        except BaseException as exc:  # reported after the join
            errors.append(exc)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in counts]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.1)
            if progress is not None:
                progress(done[0], n)
    if progress is not None:
        progress(n, n)
    if errors:
        raise errors[0]
