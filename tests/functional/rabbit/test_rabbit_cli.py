"""The operator's tools against RabbitMQ, run as the ``messaging`` command in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import messaging
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


@pytest.fixture
def served(url, topic):
    endpoint = Tools()
    with messaging.get_rpc_transport(None, url) as transport:
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                          [endpoint])
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


@pytest.mark.parametrize("scenario", ["call", "cast", "notify"])
def test_bench_runs_the_server_in_its_own_process(url, scenario):
    result = cli("bench", "--url", url, "--scenario", scenario, "-n", "300", "--json",
                 timeout=180)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["server_process"] == "own process"
    assert figures["rate"] > 0 and figures["server_cpu_us"] > 0
    assert "guest:guest" not in figures["url"]
