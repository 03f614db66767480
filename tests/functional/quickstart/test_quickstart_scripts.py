"""The quickstart page's scripts (examples/quickstart) print what the page says, in two processes.

They run on ``zmq://`` as the page runs them (no broker), each test with a
matchmaker directory of its own so parallel runs never meet.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from messaging.testing.plugin import skip_or_fail

SCRIPTS = Path(__file__).resolve().parents[3] / "examples" / "quickstart"
DEADLINE = 30.0


class Script:
    """A quickstart script in its own process; its output lines arrive in a queue."""

    def __init__(self, name: str, url: str) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPTS / name), url], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, text: str) -> str:
        """The first line (from here on) containing ``text``; fail after the deadline."""
        while True:
            try:
                line = self._queue.get(timeout=DEADLINE)
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in {DEADLINE} s; "
                                     f"output so far: {self.lines}") from None
            if line is None:
                raise AssertionError(f"the script ended without printing {text!r}; "
                                     f"output: {self.lines}")
            self.lines.append(line)
            if text in line:
                return line

    def finish(self) -> int:
        """Wait for the script to exit by itself; its exit status."""
        return self.process.wait(DEADLINE)

    def interrupt(self) -> int:
        """Ctrl-C, as the page says; the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(DEADLINE)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(DEADLINE)


@pytest.fixture
def url(tmp_path: Path) -> str:
    try:
        import zmq  # noqa: F401
    except ImportError:
        skip_or_fail("pyzmq is not installed (pip install 'messaging[zmq]')")
    directory = tmp_path / "matchmaker"
    directory.mkdir(mode=0o700)
    return f"zmq:///?zmq_matchmaker_dir={directory}"


@pytest.fixture
def start(url: str) -> Iterator[Callable[[str], Script]]:
    """Start a script on the test's URL; every one still running is killed at the end."""
    started: list[Script] = []

    def run(name: str) -> Script:
        started.append(Script(name, url))
        return started[-1]

    yield run
    for script in started:
        script.kill()


def test_a_call_waits_for_the_answer_and_a_cast_does_not(start):
    server = start("server.py")
    server.expect("server1 is serving topic 'quickstart'")

    client = start("client.py")
    assert "returned 5" in client.expect("call add(2, 3)")
    assert "ZeroDivisionError('division by zero')" in client.expect("call divide(1, 0)")
    assert "returned None" in client.expect("cast work(seconds=2)")
    assert client.finish() == 0

    server.expect("add(2, 3)")
    server.expect("work: started, 2 s to go")
    server.expect("work: done")
    assert server.interrupt() == 0
    assert not [line for line in server.lines if "Traceback" in line]


def test_a_listener_prints_what_a_notifier_on_its_topic_sends(start):
    listener = start("listener.py")
    listener.expect("listening to topic 'quickstart_events'")

    notifier = start("notifier.py")
    notifier.expect("sent 2 notifications")
    assert notifier.finish() == 0

    line = listener.expect("quickstart.started")
    assert line == "info: quickstart.started from quickstart.notifier: {'step': 1}"
    line = listener.expect("quickstart.failed")
    assert line.startswith("error: quickstart.failed from quickstart.notifier:")
    assert listener.interrupt() == 0
