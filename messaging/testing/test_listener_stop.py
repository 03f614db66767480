"""Kit: ``Listener.poll`` returns promptly once ``Listener.stop`` is called."""

from __future__ import annotations

import threading
import time

import pytest

from messaging.target import Target

PROMPT = 3.0


def _poll_then_stop(listener) -> float:
    """Block a ``poll(timeout=None)`` in a thread, stop the listener, return how long it took."""
    result: list[object] = []
    polling = threading.Event()

    def poll() -> None:
        polling.set()
        result.append(listener.poll(timeout=None))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    assert polling.wait(5)
    began = time.monotonic()
    listener.stop()
    thread.join(PROMPT + 2)
    assert not thread.is_alive(), "poll() still blocked after stop()"
    assert result == [[]], result
    return time.monotonic() - began


@pytest.mark.parametrize("kind", ["rpc", "notification"])
def test_poll_returns_promptly_after_stop(transport, topic, kind):
    if kind == "rpc":
        listener = transport.listen(Target(topic=topic, server="s1"))
    else:
        listener = transport.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        assert _poll_then_stop(listener) < PROMPT
        assert listener.poll(timeout=0.1) == []  # and it stays stopped
    finally:
        listener.cleanup()
