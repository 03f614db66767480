"""``use_queue_manager``: reply and fanout queue names that survive a restart, never shared.

Processes are real child processes (``stable_names_child.py``); a restart
is a child that exits and a new one started with the same options. The
slot lock files go to a directory of the test's own
(``MESSAGING_QUEUE_NAME_DIR``), and every test uses a process name of its
own, so runs never meet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from messaging.target import Target

pytestmark = pytest.mark.rabbit

CHILD = str(Path(__file__).with_name("stable_names_child.py"))


@pytest.fixture
def qm(tmp_path, monkeypatch) -> str:
    """The query of use_queue_manager with this test's own process name (and lock dir)."""
    monkeypatch.setenv("MESSAGING_QUEUE_NAME_DIR", str(tmp_path / "slots"))
    return f"use_queue_manager=true&hostname=node-a&processname=svc-{uuid.uuid4().hex[:8]}"


def _processname(query: str) -> str:
    return query.rpartition("processname=")[2]


class Child:
    """One child process: its names, then (after :meth:`go`) its call results."""

    def __init__(self, driver: str, url: str, topic: str, ident: str, calls: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, CHILD, driver, url, topic, ident, str(calls)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        self.names = self._line()

    def _line(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the child's calls have 30 s timeouts
        if not line:
            self.proc.wait(30)
            raise AssertionError(f"child exited with {self.proc.returncode} without output")
        return json.loads(line)

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> dict:
        result = self._line()
        assert self.proc.wait(60) == 0
        return result

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture
def children(driver_cls):
    made: list[Child] = []
    path = f"{driver_cls.__module__}:{driver_cls.__name__}"

    def start(_scheme: str, *args, **kwargs) -> Child:
        made.append(Child(path, *args, **kwargs))
        return made[-1]

    yield start
    for child in made:
        child.kill()


def test_names_have_oslos_format_and_stay_when_the_driver_closes(make_driver, qm, rmq, topic):
    driver = make_driver(qm)
    proc = _processname(qm)
    listener = driver.listen(Target(topic=topic, server="s1"))
    assert [q.name for q in listener.queues] == [topic, f"{topic}.s1",
                                                 f"{topic}_fanout_node-a:{proc}:1"]
    reply = driver._reply_queue().queue_name
    assert reply == f"reply_node-a:{proc}:1"
    rmq.wait_until(lambda: reply in rmq.queues(), what="the reply queue is declared")
    driver.cleanup()
    queues = rmq.queues()
    # Not deleted: a restarted process takes them over; x-expires removes abandoned ones.
    assert queues[reply]["arguments"]["x-expires"] == 1800 * 1000
    assert queues[f"{topic}_fanout_node-a:{proc}:1"]["consumers"] == 0


def test_a_restarted_process_gets_the_same_names_back(
        make_driver, serve, children, qm, url, scheme, topic):
    serve(make_driver().listen(Target(topic=topic, server="s1")))
    child_url = f"{url}?{qm}"
    first = children(scheme, child_url, topic, "one", calls=3)
    first.go()
    assert first.finish() == {"mine": 3, "wrong": []}
    again = children(scheme, child_url, topic, "one", calls=3)  # the restart
    assert again.names == first.names
    proc = _processname(qm)
    assert again.names == {"reply": f"reply_node-a:{proc}:1",
                           "fanout": f"{topic}_own_fanout_node-a:{proc}:1"}
    again.go()
    assert again.finish() == {"mine": 3, "wrong": []}


def test_two_live_processes_get_distinct_names_and_each_its_own_replies(
        make_driver, serve, children, qm, url, scheme, topic):
    calls = 50
    server = make_driver()
    for i in range(2):  # two servers: replies come from either
        serve(server.listen(Target(topic=topic, server=f"s{i}")))
    child_url = f"{url}?{qm}"
    a = children(scheme, child_url, topic, "a", calls=calls)
    b = children(scheme, child_url, topic, "b", calls=calls)
    proc = _processname(qm)
    assert {a.names["reply"], b.names["reply"]} == {f"reply_node-a:{proc}:1",
                                                    f"reply_node-a:{proc}:2"}
    assert a.names["fanout"] != b.names["fanout"]
    a.go()
    b.go()  # both call at once: with oslo 18.3.1's collision they stole each other's replies
    results = [a.finish(), b.finish()]
    print(f"two processes, {calls} calls each: own replies {[r['mine'] for r in results]}")
    assert results == [{"mine": calls, "wrong": []}, {"mine": calls, "wrong": []}]
    # After both exit, a restart takes the lowest free slot again.
    c = children(scheme, child_url, topic, "c")
    assert c.names["reply"] == f"reply_node-a:{proc}:1"
