"""The operator's tools (call, cast, ping, notify, listen, bench) on fake://, in-process.

``fake://`` is one bus per process, so the servers run in this process and
``messaging.cli.main`` is called directly; the same tools against RabbitMQ,
across processes, are in ``tests/functional/rabbit/test_rabbit_cli.py``.
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest

import messaging
from messaging.cli import main
from messaging.testing.helpers import Recorder, running_server


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
def url():
    return f"fake:///cli-{uuid.uuid4().hex}"


@pytest.fixture
def served(url):
    endpoint = Tools()
    transport = messaging.get_rpc_transport(None, url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic="tools", server="s1"),
                                      [endpoint])
    with running_server(server):
        yield endpoint
    transport.cleanup()


def test_call_prints_the_result_as_json(url, served, capsys):
    assert main(["call", url, "tools", "add", "--arg", "a=2", "--arg", "b=40"]) == 0
    assert json.loads(capsys.readouterr().out) == 42


def test_text_arguments_stay_text(url, served, capsys):
    assert main(["call", url, "tools", "add", "--arg", "a=ab", "--arg", "b=cd"]) == 0
    assert json.loads(capsys.readouterr().out) == "abcd"


def test_remote_error_is_printed_with_exit_status_1(url, served, capsys):
    assert main(["call", url, "tools", "fail"]) == 1
    err = capsys.readouterr().err
    assert "ValueError" in err and "refused by the endpoint" in err


def test_unknown_method_exits_1_naming_it(url, served, capsys):
    assert main(["call", url, "tools", "nope"]) == 1
    assert "NoSuchMethod" in capsys.readouterr().err


def test_timeout_exits_3(url, capsys):
    assert main(["call", url, "nobody", "m", "--timeout", "0.3"]) == 3
    assert "MessagingTimeout" in capsys.readouterr().err


def test_bad_url_and_unknown_scheme_exit_2(capsys):
    assert main(["call", "fake://u:secret@host:notaport/", "t", "m"]) == 2
    assert main(["call", "nosuchbus://u:secret@h/", "t", "m"]) == 2
    err = capsys.readouterr().err
    assert "secret" not in err and "notaport" in err and "nosuchbus" in err


def test_bad_argument_exits_2(url, served, capsys):
    assert main(["call", url, "tools", "add", "--arg", "novalue"]) == 2
    assert "key=value" in capsys.readouterr().err


def test_cast_reaches_the_server(url, served, capsys):
    assert main(["cast", url, "tools", "note", "--arg", "text=hello"]) == 0
    assert served.casts.wait_count(1) == ["hello"]


def test_ping_reports_a_live_server_without_ping_endpoint(url, served, capsys):
    assert main(["ping", url, "tools", "--server", "s1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("alive: a server of tools.s1 answered")


def test_ping_of_nobody_times_out(url, capsys):
    assert main(["ping", url, "nobody", "--timeout", "0.3"]) == 3


def test_url_from_the_environment(url, served, capsys, monkeypatch):
    monkeypatch.setenv("MESSAGING_TRANSPORT_URL", url)
    assert main(["call", "-", "tools", "add", "--arg", "a=1", "--arg", "b=1"]) == 0
    assert json.loads(capsys.readouterr().out) == 2
    monkeypatch.delenv("MESSAGING_TRANSPORT_URL")
    assert main(["call", "-", "tools", "add"]) == 2


def test_notify_then_listen_prints_json_lines(url, capsys):
    out: list[int] = []
    listening = threading.Thread(target=lambda: out.append(main(
        ["listen", url, "alerts", "--json", "--count", "2"])), daemon=True)
    listening.start()
    # Sent whether or not the listener subscribed yet: the publisher declares the queues.
    assert main(["notify", url, "alerts", "disk.full", "--priority", "error",
                 "--payload", '{"disk": "sda"}']) == 0
    assert main(["notify", url, "alerts", "disk.ok", "--payload", "{}"]) == 0
    listening.join(20)
    assert out == [0]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{")]
    # two priorities are two queues: no order between them
    assert sorted((x["priority"], x["event_type"], x["payload"]) for x in lines) == [
        ("error", "disk.full", {"disk": "sda"}), ("info", "disk.ok", {})]


def test_notify_with_bad_payload_exits_2(url, capsys):
    assert main(["notify", url, "alerts", "e", "--payload", "{not json"]) == 2


@pytest.mark.parametrize("scenario", ["call", "call-concurrent", "cast", "notify"])
def test_bench_reports_each_scenario_as_json(scenario, capsys):
    assert main(["bench", "--url", f"fake:///bench-{uuid.uuid4().hex}", "--scenario",
                 scenario, "-n", "200", "--concurrency", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scenario"] == scenario and result["n"] == 200
    assert result["rate"] > 0 and result["p50_ms"] is not None
    assert result["server_process"].startswith("same process")


def test_bench_prints_a_table(capsys):
    assert main(["bench", "--url", "fake://", "-n", "100"]) == 0
    out = capsys.readouterr().out
    assert "rate/s" in out and "p99 ms" in out and "call" in out
