"""The harness: every contender measured the same way, in interleaved repeats.

For each group of rows (one bus), the harness starts every contender's
server processes and client process once (``worker.py``; the transport URL in
the environment, never on a command line), then makes ``repeats`` passes over
the (implementation, shape) cells the selected rows need, in row order, so
the contenders of one row are measured back to back in every pass. One
measurement: the client warms up (:data:`shapes.WARMUP` messages, waited for
on the server), the server's count and CPU clock are reset, the broker's CPU
is read from ``/proc``, the client runs ``n`` messages, the server is asked
when it handled the last. The rate is ``n`` over the time from the client's
first message to the later of its last one and the server's last handled
(``time.monotonic`` is shared by the machine's processes); CPU is per message
on each side.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from buses import BUSES, BusUnavailable
from plan import GROUPS, IMPLS, Impl
from shapes import WARMUP
from worker import ROLE_ENV

from messaging.bench import procstat
from messaging.bench.protocol import ServerProcess

HERE = os.path.dirname(os.path.abspath(__file__))
DRAIN_TIMEOUT = 120.0
#: ``-n`` is multiplied by this for shapes that move many messages at once.
SHAPE_SCALE = {"call-threads": 2, "call-async": 2, "cast-threads": 3, "cast-async": 3,
               "notify-threads": 3, "notify-async": 3}


@dataclass
class Sample:
    """One measurement: messages per second, CPU microseconds per message on each side
    (None: not measurable there, e.g. no broker, or the server in the client's process)."""

    rate: float
    client_us: float
    server_us: float | None
    broker_us: float | None
    n: int

    @property
    def total_us(self) -> float:
        return self.client_us + (self.server_us or 0.0) + (self.broker_us or 0.0)


@dataclass
class Results:
    """Samples per (impl, shape), in repeat order, and the errors of cells that failed."""

    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)
    n: dict[tuple[str, str], int] = field(default_factory=dict)

    def median(self, cell: tuple[str, str], attr: str = "rate") -> float | None:
        values = [getattr(s, attr) for s in self.samples.get(cell, [])]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    def spread(self, cell: tuple[str, str], attr: str = "rate") -> tuple[float, float] | None:
        values = [getattr(s, attr) for s in self.samples.get(cell, [])
                  if getattr(s, attr) is not None]
        return (min(values), max(values)) if values else None

    def ratio(self, ours: tuple[str, str], ref: tuple[str, str],
              attr: str = "rate") -> tuple[float, float, float] | None:
        """Median, min and max of the per-repeat ratios ours/ref (paired by repeat)."""
        pairs = zip(self.samples.get(ours, []), self.samples.get(ref, []), strict=False)
        ratios = [getattr(a, attr) / getattr(b, attr) for a, b in pairs
                  if getattr(b, attr)]
        if not ratios:
            return None
        return statistics.median(ratios), min(ratios), max(ratios)


def _role_env(impl: Impl, side: str, cls: tuple[str, str], params: dict[str, Any]) -> dict[
        str, str]:
    spec = {"module": cls[0], "cls": cls[1], "side": side, "params": params}
    return {ROLE_ENV: json.dumps(spec), "PYTHONPATH": os.pathsep.join(
        p for p in (HERE, os.environ.get("PYTHONPATH", "")) if p)}


class Contender:
    """The client process and server processes of one implementation on one bus."""

    def __init__(self, impl: Impl, url: str) -> None:
        self.impl = impl
        # pika:// on the rabbit group's vhost: the same URL with the driver's scheme
        self.url = impl.scheme + url[url.index("://"):] if impl.scheme else url
        self.topic = f"bench_{impl.key.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
        self.servers: dict[str, ServerProcess] = {}
        self.client: ServerProcess | None = None

    def start(self) -> None:
        impl = self.impl
        command = [sys.executable, os.path.join(HERE, "worker.py")]
        kinds = ("rpc", "notify") if impl.notify_server else ("rpc",)
        if impl.server is not None:
            for kind in kinds:
                params = {"topic": self.topic, "kind": kind,
                          **{k: v for k, v in impl.params.items() if k in ("api", "conf")}}
                self.servers[kind] = ServerProcess(
                    command, self.url, env=_role_env(impl, "server", impl.server, params))
        params = {"topic": self.topic, **impl.params,
                  "servers": {kind: s.info for kind, s in self.servers.items()}}
        self.client = ServerProcess(command, self.url,
                                    env=_role_env(impl, "client", impl.client, params))

    def server_for(self, shape: str) -> ServerProcess | None:
        if not self.servers:
            return None
        kind = "notify" if shape.startswith("notify") and "notify" in self.servers else "rpc"
        return self.servers[kind]

    def _run(self, shape: str, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
        assert self.client is not None
        answer = self.client.command(json.dumps({"shape": shape, "n": n}),
                                     timeout=DRAIN_TIMEOUT * 3)
        server = self.server_for(shape)
        report = server.wait(answer["sent"], DRAIN_TIMEOUT) if server else answer["server"]
        if report["handled"] < answer["sent"]:
            raise RuntimeError(f"the server handled {report['handled']} of {answer['sent']} "
                               f"within {DRAIN_TIMEOUT:.0f} s")
        return answer, report

    def measure(self, shape: str, n: int, broker_pid: int | None) -> Sample:
        """Warm up, then one measurement of ``n`` messages of ``shape``."""
        self._run(shape, WARMUP)
        server = self.server_for(shape)
        if server:
            server.reset()
        broker0 = procstat.cpu_seconds(broker_pid) if broker_pid else None
        answer, report = self._run(shape, n)
        broker1 = procstat.cpu_seconds(broker_pid) if broker_pid else None
        sent = answer["sent"]
        end = max(answer["finished"], report["last"])
        broker_cpu = None if broker0 is None or broker1 is None else broker1 - broker0
        return Sample(
            rate=n / (end - answer["started"]), client_us=answer["cpu"] / sent * 1e6,
            server_us=None if report.get("cpu") is None else report["cpu"] / sent * 1e6,
            broker_us=None if broker_cpu is None else broker_cpu / sent * 1e6, n=n)

    def close(self) -> None:
        for proc in [self.client, *self.servers.values()]:
            if proc is not None:
                proc.close()


def _missing(impl: Impl) -> str | None:
    import importlib.util

    for module in impl.requires:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (the bench env installs it: tox -e bench)"
    return None


def run_group(group: str, cells: Iterable[tuple[str, str]], base_n: int, repeats: int,
              results: Results, log: Any = print) -> None:
    """Measure ``cells`` of one group, ``repeats`` interleaved passes."""
    cells = list(dict.fromkeys(cells))
    if not cells:
        return
    impls = list(dict.fromkeys(impl for impl, _ in cells))
    try:
        bus = BUSES[group]()
        url, broker_pid = bus.__enter__()
    except Exception as exc:  # BusUnavailable, or a set-up that crashed: fail these rows only
        reason = str(exc) if isinstance(exc, BusUnavailable) else \
            f"the bus could not be set up: {type(exc).__name__}: {exc}"
        for cell in cells:
            results.errors[cell] = reason
        log(f"  {group}: {reason}")
        return
    contenders: dict[str, Contender] = {}
    try:
        for key in impls:
            missing = _missing(IMPLS[key])
            if missing:
                for cell in cells:
                    if cell[0] == key:
                        results.errors[cell] = missing
                continue
            contender = Contender(IMPLS[key], url)
            try:
                contender.start()
            except Exception as exc:
                contender.close()
                for cell in cells:
                    if cell[0] == key:
                        results.errors[cell] = f"did not start: {exc}"
                continue
            contenders[key] = contender
        for repeat in range(repeats):
            began = time.monotonic()
            for cell in cells:
                key, shape = cell
                if key not in contenders or cell in results.errors:
                    continue
                impl = IMPLS[key]
                n = base_n * GROUPS[group]["n_scale"] * SHAPE_SCALE.get(shape, 1)
                n = min(n, impl.max_n.get(shape, n))
                results.n[cell] = n
                try:
                    sample = contenders[key].measure(shape, n, broker_pid)
                except Exception as exc:
                    results.errors[cell] = f"{type(exc).__name__}: {exc}"
                    log(f"  {key} {shape}: failed: {results.errors[cell]}")
                    continue
                results.samples.setdefault(cell, []).append(sample)
            log(f"  {group}: pass {repeat + 1}/{repeats} in {time.monotonic() - began:.0f} s")
    finally:
        for contender in contenders.values():
            contender.close()
        bus.__exit__(None, None, None)
