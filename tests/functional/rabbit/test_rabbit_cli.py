"""The operator's tools against RabbitMQ, run as the ``messaging`` command in its own process."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest
from rabbitmq_local import free_port

import messaging
from messaging.bench import run_scenario
from messaging.testing.helpers import Recorder, running_server


def cli(*args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "messaging.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


class Tools:
    def __init__(self) -> None:
        self.casts = Recorder()

    def add(self, ctxt, a, b):
        return a + b

    def fail(self, ctxt):
        raise ValueError("refused by the endpoint")

    def note(self, ctxt, text):
        self.casts.add(text)


class Versioned:
    """Methods of namespace ``ops`` at version 1.3."""

    target = messaging.Target(namespace="ops", version="1.3")

    def mul(self, ctxt, a, b):
        return a * b


@pytest.fixture
def served(url, topic):
    endpoint = Tools()
    with messaging.get_rpc_transport(None, url) as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                          [endpoint, Versioned()])
        with running_server(server):
            yield endpoint


def test_call_and_cast_across_processes(url, topic, served):
    result = cli("call", url, topic, "add", "--arg", "a=20", "--arg", "b=22")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == 42
    result = cli("cast", url, topic, "note", "--arg", "text=from the cli")
    assert result.returncode == 0, result.stderr
    assert served.casts.wait_count(1) == ["from the cli"]


def test_remote_error_unknown_method_and_timeout(url, topic, served):
    failed = cli("call", url, topic, "fail")
    assert failed.returncode == 1 and "refused by the endpoint" in failed.stderr
    unknown = cli("call", url, topic, "no_such_method")
    assert unknown.returncode == 1 and "NoSuchMethod" in unknown.stderr
    timeout = cli("call", url, f"{topic}_nobody", "m", "--timeout", "1")
    assert timeout.returncode == 3 and "MessagingTimeout" in timeout.stderr


def test_bad_url_never_shows_the_password(url):
    bad = cli("call", "rabbit://guest:hunter2@127.0.0.1:notaport/", "t", "m")
    assert bad.returncode == 2 and "notaport" in bad.stderr
    assert "hunter2" not in bad.stderr + bad.stdout


def test_password_from_the_environment(url, topic, served):
    no_password = url.replace("guest:guest@", "guest@")
    result = cli("call", no_password, topic, "add", "--arg", "a=1", "--arg", "b=2",
                 env={"MESSAGING_PASSWORD": "guest"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == 3
    result = cli("call", "-", topic, "add", "--arg", "a=1", "--arg", "b=3",
                 env={"MESSAGING_TRANSPORT_URL": url})
    assert result.returncode == 0 and json.loads(result.stdout) == 4


def test_ping(url, topic, served):
    result = cli("ping", url, topic, "--server", "s1")
    assert result.returncode == 0, result.stderr
    assert f"a server of {topic}.s1 answered" in result.stdout


def test_notify_and_listen(url, topic):
    listener = subprocess.Popen(
        [sys.executable, "-m", "messaging.cli", "listen", url, topic, "--json", "--count", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sent = cli("notify", url, topic, "disk.full", "--priority", "error",
                   "--payload", '{"disk": "sda"}')
        assert sent.returncode == 0, sent.stderr
        out, err = listener.communicate(timeout=60)
    finally:
        if listener.poll() is None:
            listener.kill()
    assert listener.returncode == 0, err
    event = json.loads(out.splitlines()[0])
    assert (event["priority"], event["event_type"], event["payload"]) == (
        "error", "disk.full", {"disk": "sda"})


@pytest.mark.parametrize("scenario", ["call", "call-concurrent", "cast", "notify"])
def test_bench_runs_the_server_in_its_own_process(url, scenario):
    extra = ("--concurrency", "4") if scenario == "call-concurrent" else ()
    result = cli("bench", "--url", url, "--scenario", scenario, "-n", "300", "--json", *extra,
                 timeout=180)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["scenario"] == scenario and figures["n"] == 300
    assert figures["concurrency"] == (4 if scenario == "call-concurrent" else 1)
    assert figures["server_process"] == "own process"
    assert figures["rate"] == pytest.approx(300 / figures["seconds"])
    assert figures["client_cpu_us"] > 0 and figures["server_cpu_us"] > 0
    assert figures["broker_cpu_us"] is not None  # the node on 127.0.0.1 is found in /proc
    assert "guest:guest" not in figures["url"]


def _children() -> list[int]:
    pids: list[int] = []
    for path in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        with open(path) as f:
            pids += [int(p) for p in f.read().split()]
    return pids


def test_bench_server_gets_the_password_through_its_environment_not_argv(url):
    """While the bench runs, its server child's command line (what ps shows every user)
    has no URL; the URL, password included, is in the child's environment."""
    seen: dict[int, tuple[str, str]] = {}

    def look(done: int, total: int) -> None:
        for pid in _children():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().replace(b"\0", b" ").decode()
                with open(f"/proc/{pid}/environ", "rb") as f:
                    environ = f.read().decode(errors="replace")
            except OSError:
                continue
            if "messaging.bench.server" in argv:
                seen[pid] = (argv, environ)

    assert "guest:guest@" in url  # the URL has a password to keep off the command line
    run_scenario(url, "call", n=100, progress=look)
    assert seen, "the bench server child was never seen"
    for argv, environ in seen.values():
        assert "guest" not in argv and "://" not in argv
        assert f"MESSAGING_BENCH_URL={url}" in environ.split("\0")


#: Every tool, with the arguments it needs after the URL.
TOOLS = {"call": ["t", "m"], "cast": ["t", "m"], "ping": ["t"], "notify": ["t", "e"],
         "listen": ["t", "--count", "1"]}


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_tool_refuses_a_bad_url(scheme, tool):
    bad = cli(tool, f"{scheme}://guest:hunter2@127.0.0.1:notaport/", *TOOLS[tool])
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"messaging {tool}: ") and "notaport" in bad.stderr
    assert "hunter2" not in bad.stderr + bad.stdout


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_tool_exits_3_within_its_timeout_when_the_broker_is_unreachable(scheme, tool):
    down = f"{scheme}://guest:hunter2@127.0.0.1:{free_port()}/"
    # The drivers' own bounds are 60 s; --timeout 2 must end it well before the cli's 50.
    result = cli(tool, down, *TOOLS[tool], "--timeout", "2", timeout=50)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith(f"messaging {tool}: ")
    assert "hunter2" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_ping_of_a_topic_nobody_serves_times_out(url, topic):
    result = cli("ping", url, f"{topic}_nobody", "--server", "s9", "--timeout", "1")
    assert result.returncode == 3
    assert "MessagingTimeout" in result.stderr and result.stdout == ""


def test_namespace_and_version_select_the_endpoint(url, topic, served):
    ok = cli("call", url, topic, "mul", "--namespace", "ops", "--version", "1.2",
             "--arg", "a=6", "--arg", "b=7")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == 42
    newer = cli("call", url, topic, "mul", "--namespace", "ops", "--version", "1.4",
                "--arg", "a=6", "--arg", "b=7")
    assert newer.returncode == 1 and "UnsupportedVersion" in newer.stderr
    elsewhere = cli("call", url, topic, "mul", "--namespace", "nowhere",
                    "--arg", "a=6", "--arg", "b=7")
    assert elsewhere.returncode == 1 and "UnsupportedVersion" in elsewhere.stderr


def _listener(url: str, topic: str, *args: str) -> subprocess.Popen[str]:
    """A ``messaging listen`` process, returned once it is subscribed."""
    proc = subprocess.Popen([sys.executable, "-m", "messaging.cli", "listen", url, topic,
                             "--json", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        assert line, f"the listener exited before subscribing (status {proc.wait()})"
        if line.startswith(f"listening to {topic}"):
            return proc


def test_listen_in_a_pool_shares_one_copy_between_the_pools_members(url, topic):
    """Two ``listen --pool ops`` processes get one notification each of two; a listener
    of pool ``audit`` gets both."""
    procs = [_listener(url, topic, "--pool", "ops", "--count", "1"),
             _listener(url, topic, "--pool", "ops", "--count", "1"),
             _listener(url, topic, "--pool", "audit", "--count", "2")]
    try:
        for n in (1, 2):
            sent = cli("notify", url, topic, "job.done", "--payload", json.dumps({"n": n}))
            assert sent.returncode == 0, sent.stderr
        outs = [proc.communicate(timeout=60)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    got = [[json.loads(line)["payload"]["n"] for line in out.splitlines()] for out in outs]
    assert sorted(got[0] + got[1]) == [1, 2]  # one each: the pool shares one copy
    assert sorted(got[2]) == [1, 2]  # the other pool has its own
