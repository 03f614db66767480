"""One bench process: a client or a server role, driven by the harness over a pipe.

Started by :mod:`harness` as ``python benchmarks/worker.py`` with the role in
``$MESSAGING_BENCH_ROLE`` (JSON: ``module``, ``cls``, ``side``, ``params``)
and the transport URL in ``$MESSAGING_BENCH_URL`` (never on the command line).

- A server role has a ``counter`` (:class:`messaging.bench.protocol.Counter`)
  that counts what it handled, ``info`` (what clients need: ports, queue
  names), and ``start()``/``stop()``; this process then speaks
  :mod:`messaging.bench.protocol`.
- A client role has ``shapes`` (shape name -> ``run(n)``) and ``close()``;
  this process answers JSON lines ``{"shape", "n"}`` with the figures of
  :func:`shapes.timed`, and ``quit``.

The protocol uses a private copy of stdout: anything a client library
prints goes to stderr instead of corrupting the answers.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
import warnings
from typing import IO, Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from messaging.bench.protocol import URL_ENV, answer_commands

ROLE_ENV = "MESSAGING_BENCH_ROLE"


def _client_loop(role: Any, stdin: IO[str], out: IO[str]) -> None:
    from shapes import timed

    out.write("ready\n")
    out.flush()
    for line in stdin:
        if not line.strip():
            continue
        if line.strip() == "quit":
            return
        request = json.loads(line)
        try:
            run = role.shapes[request["shape"]]
            answer = timed(run, int(request["n"]))
        except Exception as exc:  # reported to the harness, which fails the row
            traceback.print_exc()
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


def main() -> int:
    # oslo.messaging's dependencies warn about eventlet's deprecation on import: not news here.
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    spec = json.loads(os.environ[ROLE_ENV])
    url = os.environ[URL_ENV]
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints of client libraries go to stderr
    cls = getattr(importlib.import_module(spec["module"]), spec["cls"])
    role = cls(url, **spec.get("params", {}))
    try:
        if spec["side"] == "server":
            role.start()
            answer_commands(role.counter, sys.stdin, out, role.info)
        else:
            _client_loop(role, sys.stdin, out)
    finally:
        role.stop() if spec["side"] == "server" else role.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
