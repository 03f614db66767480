"""``messaging bench``: throughput and latency of one transport URL, measured honestly.

The server (an RPC server or a notification listener) runs in a process of
its own for every driver with a bus to cross, so the client's figures are
not flattered by sharing one interpreter; ``fake://`` can only run both in
one process (its bus is in memory). See :func:`run_scenario`. The server
process and its line protocol (:mod:`messaging.bench.protocol`) are also
what ``tox -e bench`` drives for this library's rows.
"""

from .runner import SCENARIOS, BenchResult, run_scenario

__all__ = ["SCENARIOS", "BenchResult", "run_scenario"]
