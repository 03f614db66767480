"""Run every benchmark whose bus is available; print ops/s and ratios to the raw client.

A benchmark's ``run(n)`` returns rows ``(label, ops/s, ratio)``, the ratio
against the raw client library, or ``(label, ops/s, ratio, against)`` naming
what the ratio compares with.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BENCHES = ["bench_fake", "bench_rabbit", "bench_pika", "bench_notify", "bench_amqp1",
           "bench_zmq", "bench_async"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=3000, help="operations per measurement")
    parser.add_argument("only", nargs="*", help="benchmark modules to run (default: all)")
    args = parser.parse_args()
    for name in args.only or BENCHES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            print(f"{name}: not available ({exc})")
            continue
        try:
            rows = module.run(args.n)
        except Exception as exc:  # a missing broker should not hide the other results
            print(f"{name}: skipped ({type(exc).__name__}: {exc})")
            continue
        for label, rate, ratio, *against in rows:
            extra = f"  ratio {ratio:5.2f}x {against[0] if against else 'raw'}" \
                if ratio is not None else ""
            print(f"{label:55s} {rate:10.0f} ops/s{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
