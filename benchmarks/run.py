"""``tox -e bench``: this library beside the raw client libraries and oslo.messaging 18.x.

For every driver (fake, rabbit, pika, amqp, zmq) it measures, with the same
harness (:mod:`harness`), this library, the raw client doing the same job
with no framework, and oslo.messaging where it has the driver (rabbit, and
its fake driver); every server in its own process (``fake://`` alone keeps
client and server in one, its bus being in memory); at least three
interleaved repeats; and prints one table: scenario, oslo.messaging, ours,
raw, the ratio to the raw client (median and range of the per-repeat
ratios), and issue 13's goal. Rates are medians with their min-max; CPU rows
are microseconds per call, client + server + broker.

A contender that cannot run (a broker not answering, oslo.messaging or a raw
client not installed) fails its rows and the run (exit status 1): a missing
baseline is an error, not a silent omission. Select less with ``--drivers``
and ``--scenarios``; ``--quick`` for a fast look.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Results, run_group
from plan import DRIVERS, GROUPS, ROWS, SCENARIOS, Row, tracing_available
from report import as_json, machine, table


def _csv(choices: tuple[str, ...] | list[str], what: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        picked = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in picked if x not in choices]
        if bad or not picked:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(bad) or '(none)'}; choose from {', '.join(choices)}")
        return picked
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drivers", type=_csv(list(DRIVERS), "driver"), default=list(DRIVERS),
                        help=f"comma-separated, from {','.join(DRIVERS)} (default: all)")
    parser.add_argument("--scenarios", type=_csv(SCENARIOS, "scenario"),
                        default=list(SCENARIOS),
                        help=f"comma-separated, from {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("-n", type=int, default=2000,
                        help="messages per measurement (x5 on fake, x2-3 for many in flight; "
                             "default 2000)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved passes (default 3; at least 3 for figures you quote)")
    parser.add_argument("--quick", action="store_true",
                        help="a fast look: -n 300 (repeats stay as given)")
    parser.add_argument("--json", metavar="PATH",
                        help="also write every sample and figure as JSON to PATH (- for stdout)")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Terminated: unwind, so every worker process is stopped and the bench vhost deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.quick:
        args.n = 300
    if args.n < 1 or args.repeats < 1:
        sys.stderr.write("run.py: -n and --repeats must be at least 1\n")
        return 2
    rows = [r for r in ROWS if r.driver in args.drivers and r.scenario in args.scenarios]
    if args.list:
        for row in rows:
            sys.stdout.write(f"{row.scenario:15s} {row.label}\n")
        return 0
    skipped: dict[int, str] = {}
    have_tracing = tracing_available()
    for i, row in enumerate(rows):
        if row.optional and not have_tracing:
            skipped[i] = row.optional
    results = Results()
    began = time.monotonic()
    for group in GROUPS:
        group_rows = [r for i, r in enumerate(rows)
                      if DRIVERS[r.driver] == group and i not in skipped]
        cells = [c for r in group_rows for c in _cells(r)]
        if cells:
            print(f"{group}: {len(set(cells))} measurements x {args.repeats} repeats",
                  flush=True)
            run_group(group, cells, args.n, args.repeats, results)
    info = machine()
    print(f"\nRun of {info['date']}, commit {info['commit']}, {info['cpu']} x{info['cores']}, "
          f"Python {info['python']}, RabbitMQ {info['rabbitmq']}, load {info['load']}, "
          f"-n {args.n}, {args.repeats} repeats, {time.monotonic() - began:.0f} s\n")
    print(table(results, rows, skipped))
    if results.errors:
        print("\nFailed:")
        for (impl, shape), error in results.errors.items():
            print(f"- {impl} {shape}: {error}")
    if args.json:
        data = json.dumps(as_json(results, rows, skipped, info, args.repeats), indent=1)
        if args.json == "-":
            sys.stdout.write(data + "\n")
        else:
            with open(args.json, "w") as f:
                f.write(data + "\n")
    return 1 if results.errors else 0


def _cells(row: Row) -> list[tuple[str, str]]:
    return [row.ours, *row.raws, *([row.oslo] if row.oslo else [])]


if __name__ == "__main__":
    sys.exit(main())
