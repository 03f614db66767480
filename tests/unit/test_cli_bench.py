"""``messaging bench`` on fake://: each scenario, its options, its table and progress bar.

The same command against RabbitMQ, with its server in its own process, is
tested in ``tests/functional/rabbit/test_rabbit_cli.py``.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid

import pytest

from messaging.bench.runner import server_command
from messaging.cli import main


def _url() -> str:
    return f"fake:///bench-{uuid.uuid4().hex}"


@pytest.mark.parametrize("scenario", ["call", "call-concurrent", "cast", "notify"])
def test_bench_reports_each_scenario_as_json(scenario, capsys):
    extra = ["--concurrency", "4"] if scenario == "call-concurrent" else []
    assert main(["bench", "--url", _url(), "--scenario", scenario, "-n", "200", "--json",
                 *extra]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scenario"] == scenario and result["n"] == 200
    assert result["concurrency"] == (4 if scenario == "call-concurrent" else 1)
    assert result["rate"] == pytest.approx(200 / result["seconds"])
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert result["client_cpu_us"] > 0
    assert result["server_cpu_us"] is None and result["broker_cpu_us"] is None
    assert result["server_process"].startswith("same process")


def test_bench_prints_a_table_with_rate_latency_and_cpu(capsys):
    assert main(["bench", "--url", _url(), "-n", "100", "--payload", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("payload 10 bytes")
    header, row = lines[1].split(), lines[2].split()
    assert header[:5] == ["scenario", "messages", "rate/s", "p50", "ms"]
    assert "CPU/msg" in lines[1] and "broker" in lines[1]
    assert row[0] == "call" and row[1] == "100"
    assert float(row[2].replace(",", "")) > 0
    assert float(row[3]) <= float(row[4])  # p50 <= p99
    assert lines[3].startswith("(client CPU includes the server")


@pytest.mark.parametrize("scenario", ["call", "cast", "notify"])
def test_concurrency_is_refused_where_it_does_not_apply(scenario, capsys):
    assert main(["bench", "--url", _url(), "--scenario", scenario, "--concurrency", "4"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--concurrency applies to --scenario call-concurrent only" in captured.err


@pytest.mark.parametrize("bad", [["-n", "0"], ["--payload", "-1"],
                                 ["--scenario", "call-concurrent", "--concurrency", "0"]])
def test_nonsense_counts_are_refused(bad, capsys):
    assert main(["bench", "--url", _url(), *bad]) == 2
    assert "at least" in capsys.readouterr().err


def test_unknown_scenario_is_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--url", _url(), "--scenario", "fanout"])
    assert exited.value.code == 2
    assert "invalid choice: 'fanout'" in capsys.readouterr().err


def test_progress_bar_is_drawn_on_a_terminal():
    """stderr on a pseudo-terminal: the bar fills to n/n; the table still goes to stdout."""
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "messaging.cli", "bench", "--url", "fake://", "-n", "300"],
            stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=120)
        os.close(terminal)
        terminal = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal's other end closed
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    assert result.returncode == 0
    frames = [f.strip() for f in drawn.decode().split("\r") if f.strip()]
    assert any("/300" in f and "#" not in f for f in frames)  # an empty bar first
    assert frames[-1] == "call             [" + "#" * 30 + "] 300/300"
    assert "rate/s" in result.stdout and "[#" not in result.stdout


def test_no_progress_bar_when_stderr_is_not_a_terminal():
    result = subprocess.run(
        [sys.executable, "-m", "messaging.cli", "bench", "--url", "fake://", "-n", "100"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stderr == ""


def test_the_server_command_line_carries_no_url():
    argv = server_command("bench_topic", "rpc")
    assert argv[1:] == ["-m", "messaging.bench.server", "bench_topic", "rpc"]


def test_the_bench_server_refuses_to_start_without_its_url_in_the_environment():
    env = {k: v for k, v in os.environ.items() if k != "MESSAGING_BENCH_URL"}
    result = subprocess.run(server_command("t", "rpc"), capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 2
    assert "$MESSAGING_BENCH_URL is not set" in result.stderr
