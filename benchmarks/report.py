"""The table at the end of a run (Markdown, as doc/benchmarks.md shows it), and its JSON."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata
from typing import Any

from harness import Results
from plan import IMPLS, Row

HERE = os.path.dirname(os.path.abspath(__file__))


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), "?")
    except OSError:
        pass
    rabbit = None
    try:
        out = subprocess.run(["rabbitmqctl", "-q", "version"], capture_output=True, text=True,
                             timeout=30)
        rabbit = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    commit = None
    try:
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or None, "cpu": cpu, "cores": os.cpu_count(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(), "rabbitmq": rabbit,
        "libraries": {d: _version(d) for d in ("messaging", "oslo.messaging", "kombu", "amqp",
                                               "pika", "python-qpid-proton", "pyzmq")},
    }


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


def _cell(results: Results, cell: tuple[str, str] | None, metric: str, named: bool = False,
          skip: str | None = None) -> str:
    if cell is None:
        return "-"
    name = IMPLS[cell[0]].label + " " if named else ""
    if skip:
        return f"{name}n/a"
    if cell in results.errors:
        return f"{name}FAILED"
    if metric == "cpu":
        samples = results.samples.get(cell)
        if not samples:
            return f"{name}-"
        total = results.median(cell, "total_us")
        parts = [f"c {results.median(cell, 'client_us'):,.0f}"]
        if results.median(cell, "server_us") is not None:
            parts.append(f"s {results.median(cell, 'server_us'):,.0f}")
        if results.median(cell, "broker_us") is not None:
            parts.append(f"b {results.median(cell, 'broker_us'):,.0f}")
        return f"{name}{total:,.0f} µs ({' + '.join(parts)})"
    median, spread = results.median(cell), results.spread(cell)
    if median is None or spread is None:
        return f"{name}-"
    return f"{name}{_rate(median)} ({spread[0]:,.0f}-{spread[1]:,.0f})"


def row_figures(results: Results, row: Row) -> dict[str, Any]:
    """The row's ratio to its reference and how far it is towards its goal."""
    attr = "total_us" if row.metric == "cpu" else "rate"
    ratio = results.ratio(row.ours, row.raws[0], attr) if row.raws else None
    ours = results.median(row.ours, attr)
    fraction = row.goal.fraction(ours, ratio[0] if ratio else None) if row.goal else None
    return {"ratio": ratio, "ours": ours, "fraction": fraction}


def table(results: Results, rows: list[Row], skipped: dict[int, str]) -> str:
    oslo = _version("oslo.messaging")
    head = ["scenario", f"oslo.messaging {oslo}" if oslo else "oslo.messaging", "ours", "raw",
            "ratio (median of repeats)", "goal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, row in enumerate(rows):
        skip = skipped.get(i)
        figures = row_figures(results, row) if not skip else {}
        ratio = figures.get("ratio")
        if skip:
            ratio_text = f"n/a: {skip}"
        elif ratio:
            ref = IMPLS[row.raws[0][0]].label
            ratio_text = f"{ratio[0]:.2f}x {ref} ({ratio[1]:.2f}-{ratio[2]:.2f})"
        else:
            ratio_text = "-"
        goal = "-"
        if row.goal:
            fraction = figures.get("fraction")
            goal = row.goal.text + ("" if fraction is None else
                                    ": met" if fraction >= 1 else f": {fraction:.2f} of goal")
        raws = "; ".join(_cell(results, c, row.metric, named=True, skip=skip)
                         for c in row.raws) or "-"
        lines.append("| " + " | ".join([
            row.label, _cell(results, row.oslo, row.metric, skip=skip),
            _cell(results, row.ours, row.metric, skip=skip), raws, ratio_text, goal]) + " |")
    return "\n".join(lines)


def as_json(results: Results, rows: list[Row], skipped: dict[int, str],
            info: dict[str, Any], repeats: int) -> dict[str, Any]:
    def cell(c: tuple[str, str] | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {"impl": c[0], "label": IMPLS[c[0]].label, "shape": c[1],
                "n": results.n.get(c), "error": results.errors.get(c),
                "samples": [vars(s) for s in results.samples.get(c, [])],
                "median_rate": results.median(c),
                "median_cpu_us": results.median(c, "total_us")}

    out = []
    for i, row in enumerate(rows):
        figures = row_figures(results, row) if i not in skipped else {}
        out.append({"label": row.label, "scenario": row.scenario, "driver": row.driver,
                    "metric": row.metric, "skipped": skipped.get(i),
                    "ours": cell(row.ours), "raws": [cell(c) for c in row.raws],
                    "oslo": cell(row.oslo), "ratio": figures.get("ratio"),
                    "goal": row.goal.text if row.goal else None,
                    "goal_fraction": figures.get("fraction")})
    return {"machine": info, "repeats": repeats, "rows": out,
            "errors": {f"{k[0]} {k[1]}": v for k, v in results.errors.items()}}
