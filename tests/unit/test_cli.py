"""The ``messaging`` command runs the demo and lists drivers."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from messaging_fake.driver import FakeDriver


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "messaging.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_demo_runs_the_seed_scenario():
    result = _run("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "returned 'hello namespace1'" in out and "returned 'hello namespace2'" in out
    assert "cast returned None" in out
    assert "AnotherTestEndpoint.test got 'this is text'" in out
    assert "NoSuchMethod" in out and "UnsupportedVersion" in out and "MessagingTimeout" in out
    assert "[listener] warn" in out and "[listener] error" in out
    assert out.rstrip().endswith("Done: every step behaved as described.")


def test_drivers_lists_schemes_and_libraries():
    result = _run("drivers")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["scheme", "provided"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert {"fake", "rabbit", "kombu"} <= set(rows)
    assert "rpc at-most-once, notifications at-least-once" in rows["fake"]
    assert "brokered" not in rows["fake"]
    caps = FakeDriver.capabilities
    declared = [f.name for f in dataclasses.fields(caps) if getattr(caps, f.name) is True]
    assert rows["fake"].endswith(", ".join(declared))  # every flag declared, in field order
    try:
        import kombu  # noqa: F401
    except ImportError:  # the driver is listed, and why it cannot load is said
        assert "cannot load" in rows["rabbit"] and "No module named" in rows["rabbit"]
    else:
        assert " kombu 5." in rows["rabbit"] and "publisher_confirms" in rows["rabbit"]
        assert "brokered" in rows["rabbit"]


def test_no_command_is_an_error():
    assert _run().returncode != 0
