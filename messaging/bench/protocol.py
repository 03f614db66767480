"""The line protocol between a bench process and the server process it measures.

A server process prints ``ready`` (optionally followed by one JSON object:
what its clients need to know, such as the ports it bound) once it serves,
then answers one command per line on stdin with one JSON line on stdout:

- ``reset``: zero the handled count and the CPU clock;
- ``wait N SECONDS``: block until N messages were handled since ``reset``
  (or SECONDS passed), then report ``{"handled", "cpu", "last", "pid"}``:
  ``cpu`` the process's CPU seconds since ``reset``, ``last`` the
  ``time.monotonic()`` of the latest message handled (the clock is shared
  by every process of the machine, so the parent can time a run until the
  server handled all of it);
- ``quit``: stop and exit.

The transport URL never travels on a command line (``ps`` shows those to
every user): the parent hands it over in the environment variable
:data:`URL_ENV`.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

from ..exceptions import MessagingException

__all__ = ["CONF_ENV", "URL_ENV", "Counter", "ServerProcess", "answer_commands",
           "process_cpu"]

#: Environment variable carrying the transport URL to a server process.
URL_ENV = "MESSAGING_BENCH_URL"
#: Environment variable carrying a JSON configuration dict (``conf``) to a server process.
CONF_ENV = "MESSAGING_BENCH_CONF"


def process_cpu() -> float:
    """CPU seconds (user + system) this process used so far, all threads included."""
    t = os.times()
    return t.user + t.system


class Counter:
    """Messages handled, the time of the latest one, and a wait for a count."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._target = 0
        self.count = 0
        self.last = 0.0

    def add(self) -> None:
        """Count one message (called on the server's hot path: wakes a waiter only at its
        target)."""
        with self._cond:
            self.count += 1
            self.last = time.monotonic()
            if self._target and self.count >= self._target:
                self._cond.notify_all()

    def reset(self) -> None:
        with self._cond:
            self.count = 0
            self.last = 0.0

    def wait(self, n: int, timeout: float) -> tuple[int, float]:
        """Block until ``n`` were counted or ``timeout`` passed; return (count, last)."""
        with self._cond:
            self._target = n
            try:
                self._cond.wait_for(lambda: self.count >= n, timeout)
            finally:
                self._target = 0
            return self.count, self.last


def answer_commands(counter: Counter, stdin: IO[str], stdout: IO[str],
                    info: Mapping[str, Any] | None = None) -> None:
    """Say ``ready`` and answer the parent's commands until ``quit`` or end of input."""
    stdout.write("ready" + (" " + json.dumps(dict(info)) if info else "") + "\n")
    stdout.flush()
    cpu0 = process_cpu()
    for line in stdin:
        words = line.split()
        if not words:
            continue
        report: dict[str, Any]
        if words[0] == "reset":
            counter.reset()
            cpu0 = process_cpu()
            report = {"handled": 0}
        elif words[0] == "wait" and len(words) == 3:
            handled, last = counter.wait(int(words[1]), float(words[2]))
            report = {"handled": handled, "cpu": process_cpu() - cpu0, "last": last,
                      "pid": os.getpid()}
        elif words[0] == "quit":
            return
        else:
            report = {"error": f"unknown command {line.strip()!r}"}
        stdout.write(json.dumps(report) + "\n")
        stdout.flush()


class ServerProcess:
    """A server process speaking this protocol; the URL goes in its environment."""

    def __init__(self, argv: Sequence[str], url: str, conf: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None, startup_timeout: float = 120.0) -> None:
        child_env = {**os.environ, **(env or {}), URL_ENV: url}
        if conf:
            child_env[CONF_ENV] = json.dumps(dict(conf))
        self.argv = list(argv)
        self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      env=child_env, text=True, bufsize=1)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to: IO[str] = self._proc.stdin
        self._from: IO[str] = self._proc.stdout
        self.pid = self._proc.pid
        self.info: dict[str, Any] = {}
        line = self._readline(startup_timeout)
        word, _, rest = line.strip().partition(" ")
        if word != "ready":
            self.close()
            raise MessagingException(f"the bench server {self.argv[-2:]} did not start "
                                     f"(it said {line.strip()!r}; its error is above)")
        if rest:
            self.info = json.loads(rest)

    def _readline(self, timeout: float) -> str:
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(self._from.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self._proc.kill()
            reader.join(10)
            raise MessagingException(f"the bench server {self.argv[-2:]} did not answer "
                                     f"within {timeout:.0f} s")
        return got[0] if got else ""

    def command(self, line: str, timeout: float = 600.0) -> dict[str, Any]:
        """Send one command; return its JSON answer."""
        try:
            self._to.write(line + "\n")
            self._to.flush()
        except (OSError, ValueError):
            raise MessagingException("the bench server exited") from None
        answer = self._readline(timeout)
        if not answer:
            raise MessagingException(f"the bench server exited (status {self._proc.poll()})")
        result: dict[str, Any] = json.loads(answer)
        if "error" in result:
            raise MessagingException(f"the bench server refused {line!r}: {result['error']}")
        return result

    def reset(self) -> None:
        self.command("reset")

    def wait(self, n: int, timeout: float) -> dict[str, Any]:
        return self.command(f"wait {n} {timeout}", timeout + 30)

    def close(self) -> None:
        """Ask the server to quit; kill it if it does not within 30 s."""
        try:
            self._to.write("quit\n")
            self._to.flush()
            self._to.close()
        except (OSError, ValueError):
            pass
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        self._from.close()
