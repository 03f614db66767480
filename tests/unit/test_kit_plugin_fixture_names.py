"""The kit's pytest plugin, loaded in every user's run, adds only ``messaging_``-prefixed fixtures.

It is registered through the ``pytest11`` entry point, so a project's own
``transport`` or ``topic`` fixtures must keep working, and a test asking for
a ``transport`` the project never defined must not silently get ours.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _run_pytest(where: Path) -> subprocess.CompletedProcess[str]:
    """A user's pytest run in ``where``: the kit's plugin comes in by its entry point alone."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(where)], cwd=where, capture_output=True, text=True, timeout=120)


def test_users_own_transport_and_topic_fixtures_are_not_shadowed(tmp_path):
    (tmp_path / "conftest.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.fixture
        def transport():
            return "the user's transport"

        @pytest.fixture
        def topic():
            return "the user's topic"
    """))
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        def test_own_fixtures(transport, topic):
            assert (transport, topic) == ("the user's transport", "the user's topic")

        def test_kit_fixture_is_prefixed(messaging_topic):
            assert messaging_topic.startswith("kit_")
    """))
    run = _run_pytest(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_no_unprefixed_fixture_is_injected(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        def test_wants_transport(transport):
            pass

        def test_wants_topic(topic):
            pass
    """))
    run = _run_pytest(tmp_path)
    assert run.returncode != 0
    assert "fixture 'transport' not found" in run.stdout
    assert "fixture 'topic' not found" in run.stdout
