"""The operator's tools (call, cast, ping, notify, listen) on fake://, in-process.

``fake://`` is one bus per process, so the servers run in this process and
``messaging.cli.main`` is called directly; the same tools against RabbitMQ,
across processes, are in ``tests/functional/rabbit/test_rabbit_cli.py``.
"""

from __future__ import annotations

import json
import threading
import time
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


class Versioned:
    """Methods of namespace ``ops`` at version 1.3."""

    target = messaging.Target(namespace="ops", version="1.3")

    def mul(self, ctxt, a, b):
        return a * b


@pytest.fixture
def url():
    return f"fake:///cli-{uuid.uuid4().hex}"


@pytest.fixture
def served(url):
    endpoint = Tools()
    transport = messaging.get_rpc_transport(None, url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic="tools", server="s1"),
                                      [endpoint, Versioned()])
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


#: Every tool, with the arguments it needs after the URL.
TOOLS = {"call": ["tools", "add"], "cast": ["tools", "note"], "ping": ["tools"],
         "notify": ["alerts", "disk.full"], "listen": ["alerts"]}


@pytest.mark.parametrize("tool", sorted(TOOLS))
@pytest.mark.parametrize("bad", ["fake://u:secret@host:notaport/", "nosuchbus://u:secret@h/",
                                 "no-scheme-at-all"])
def test_every_tool_refuses_a_bad_url_with_exit_2_and_no_password(tool, bad, capsys):
    assert main([tool, bad, *TOOLS[tool]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"messaging {tool}: ")
    assert "secret" not in err
    assert ("notaport" in err) or ("nosuchbus" in err) or ("no-scheme-at-all" in err)


def test_namespace_and_version_select_the_endpoint(url, served, capsys):
    assert main(["call", url, "tools", "mul", "--namespace", "ops", "--version", "1.2",
                 "--arg", "a=6", "--arg", "b=7"]) == 0
    assert json.loads(capsys.readouterr().out) == 42


@pytest.mark.parametrize("extra", [["--namespace", "ops", "--version", "1.4"],
                                   ["--namespace", "ops", "--version", "2.0"],
                                   ["--namespace", "elsewhere"]])
def test_a_version_or_namespace_no_endpoint_has_exits_1_unsupported(url, served, extra,
                                                                     capsys):
    assert main(["call", url, "tools", "mul", "--arg", "a=1", "--arg", "b=1", *extra]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "UnsupportedVersion" in captured.err


def test_a_method_of_another_namespace_is_not_reached_without_it(url, served, capsys):
    assert main(["call", url, "tools", "mul", "--arg", "a=1", "--arg", "b=1"]) == 1
    assert "NoSuchMethod" in capsys.readouterr().err  # the default namespace has no mul


def test_ping_timeout_names_the_timeout(url, capsys):
    assert main(["ping", url, "nobody", "--server", "s9", "--timeout", "0.3"]) == 3
    err = capsys.readouterr().err
    assert "MessagingTimeout" in err and "0.3" in err


def _wait_until(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_listen_in_a_pool_shares_one_copy_with_the_pool(url, capsys):
    """``listen --pool ops`` and a library listener of pool ``ops`` get each notification
    once between them; a listener of pool ``audit`` gets its own copy of each."""

    class Seen:
        def __init__(self):
            self.events = Recorder()

        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            self.events.add(payload["n"])

    mate, other = Seen(), Seen()
    transport = messaging.get_notification_transport(None, url)
    listeners = [messaging.get_notification_listener(
        transport, [messaging.Target(topic="alerts")], [seen], pool=pool)
        for seen, pool in ((mate, "ops"), (other, "audit"))]
    status: list[int] = []
    cli = threading.Thread(target=lambda: status.append(main(
        ["listen", url, "alerts", "--pool", "ops", "--json", "--count", "1"])), daemon=True)
    out: list[str] = []
    err: list[str] = []

    def captured() -> None:
        got = capsys.readouterr()
        out.extend(got.out.splitlines())
        err.append(got.err)

    for listener in listeners:
        listener.start()
    try:
        cli.start()
        _wait_until(lambda: captured() or "listening to alerts in pool ops" in "".join(err),
                    "the CLI listener to subscribe")
        sent = 0
        printed: list[int] = []
        while not printed and sent < 20:  # one at a time: the pool's members take turns
            assert main(["notify", url, "alerts", "e", "--payload",
                         json.dumps({"n": sent})]) == 0
            sent += 1

            def accounted(expected: int = sent) -> bool:
                captured()
                printed[:] = [json.loads(line)["payload"]["n"] for line in out
                              if line.startswith("{")]
                return len(printed) + len(mate.events.items) == expected
            _wait_until(accounted, f"notification {sent - 1} to reach one pool member")
        cli.join(10)
        assert sorted(other.events.wait_count(sent)) == list(range(sent))
    finally:
        for listener in listeners:
            listener.stop()
            listener.wait()
        transport.cleanup()
    assert status == [0]
    assert len(printed) == 1
    assert sorted(printed + mate.events.items) == list(range(sent))
