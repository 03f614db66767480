"""Run one bench scenario against a transport URL and measure it.

Scenarios (the client side; the server is :mod:`messaging.bench.server`):

- ``call``: sequential ``RPCClient.call``; rate, and latency per call.
- ``call-concurrent``: ``concurrency`` threads calling at once.
- ``cast``: sequential ``RPCClient.cast`` (each taken by the bus, confirmed
  where the driver confirms), timed until the server handled them all.
- ``notify``: sequential ``Notifier.info``, timed until the listener
  handled them all.

CPU per message is measured on each side (``os.times`` of each process);
with ``fake://`` both sides share one process and only the total is known.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import IO, Any

from .. import Notifier, Target, get_notification_transport, get_rpc_client, get_rpc_transport
from ..exceptions import MessagingException
from ..url import TransportURL
from . import server as bench_server

__all__ = ["SCENARIOS", "BenchResult", "run_scenario"]

SCENARIOS = ("call", "call-concurrent", "cast", "notify")
WARMUP = 50
#: Seconds the server may take to handle what was sent before the run is declared failed.
DRAIN_TIMEOUT = 120.0
Progress = Callable[[int, int], None]


@dataclass
class BenchResult:
    """The figures of one run (latencies in milliseconds, CPU in microseconds per message).

    Latency is per operation as the caller sees it: a call's round trip, a
    cast's or notification's hand-over to the bus. With the server in the
    same process, ``client_cpu_us`` covers both sides and ``server_cpu_us``
    is None.
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
    server_process: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return asdict(self)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000.0


class _Server:
    """The bench server, in its own process (or, for ``fake://``, a thread of this one)."""

    def __init__(self, url: str, topic: str, kind: str) -> None:
        self.in_process = TransportURL.parse(url).scheme == "fake"
        self._to: IO[str]
        self._from: IO[str]
        if self.in_process:
            r_cmd, w_cmd = os.pipe()
            r_out, w_out = os.pipe()
            self._to = os.fdopen(w_cmd, "w", buffering=1)
            self._from = os.fdopen(r_out, "r", buffering=1)
            stdin, stdout = os.fdopen(r_cmd, "r", buffering=1), os.fdopen(w_out, "w", buffering=1)
            self._thread: threading.Thread | None = threading.Thread(
                target=bench_server.serve, args=(url, topic, kind, stdin, stdout),
                name="messaging-bench-server", daemon=True)
            self._thread.start()
            self._proc: subprocess.Popen[str] | None = None
        else:
            self._thread = None
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "messaging.bench.server", url, topic, kind],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._to, self._from = self._proc.stdin, self._proc.stdout
        line = self._from.readline().strip()
        if line != "ready":
            self.close()
            raise MessagingException(f"the bench server did not start (it said {line!r})")

    def command(self, line: str) -> dict[str, Any]:
        self._to.write(line + "\n")
        self._to.flush()
        answer = self._from.readline()
        if not answer:
            raise MessagingException("the bench server exited")
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> None:
        try:
            self._to.write("quit\n")
            self._to.flush()
        except (OSError, ValueError):
            pass
        if self._proc is not None:
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        if self._thread is not None:
            self._thread.join(30)


def run_scenario(url: str, scenario: str, n: int = 2000, concurrency: int = 8,
                 payload: int = 100, progress: Progress | None = None,
                 timeout: float = 30.0) -> BenchResult:
    """Measure ``scenario`` (one of :data:`SCENARIOS`) on ``url`` with ``n`` messages."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    topic = f"bench_{uuid.uuid4().hex[:10]}"
    data = "x" * payload
    kind = "notify" if scenario == "notify" else "rpc"
    server = _Server(url, topic, kind)
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
            if scenario != "call" and scenario != "call-concurrent":
                server.command(f"wait {WARMUP} {DRAIN_TIMEOUT}")
            server.command("reset")
            cpu0 = _cpu()
            began = time.perf_counter()
            if scenario == "call-concurrent":
                _concurrently(one, n, concurrency, latencies, progress)
            else:
                _sequentially(one, n, latencies, progress)
            report = server.command(f"wait {n} {DRAIN_TIMEOUT}")
            seconds = time.perf_counter() - began
            client_cpu = _cpu() - cpu0
        finally:
            transport.cleanup()
        if report.get("handled", 0) < n:
            raise MessagingException(f"the server handled {report.get('handled')} of {n} "
                                     f"messages within {DRAIN_TIMEOUT:.0f} s")
    finally:
        server.close()
    server_cpu = None if server.in_process else float(report["cpu"])
    return BenchResult(
        scenario=scenario, url=TransportURL.parse(url).render(mask=True), n=n,
        concurrency=concurrency if scenario == "call-concurrent" else 1, payload=payload,
        seconds=seconds, rate=n / seconds,
        p50_ms=_percentile(latencies, 0.5), p99_ms=_percentile(latencies, 0.99),
        client_cpu_us=client_cpu / n * 1e6,  # in-process: both sides together
        server_cpu_us=None if server_cpu is None else server_cpu / n * 1e6,
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
    while any(t.is_alive() for t in threads):
        threads[0].join(0.1)
        if progress is not None:
            progress(done[0], n)
    if errors:
        raise errors[0]
