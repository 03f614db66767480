"""drivers/messaging_rabbit/poller.py in a plain process: select.poll's answers, in seconds.

(Under eventlet the same object waits through the hub: tests/eventlet runs
the kombu driver there.)
"""

from __future__ import annotations

import os
import time

import pytest

poller_mod = pytest.importorskip("messaging_rabbit.poller")


@pytest.fixture
def pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    yield r, w
    os.close(r)
    os.close(w)


def test_a_plain_process_polls_the_real_way(pipe):
    r, w = pipe
    poller = poller_mod.Poller()
    assert poller.green is False and poller_mod.select_is_patched() is False
    poller.register(r)
    started = time.monotonic()
    assert poller.poll(0.05) == []
    assert time.monotonic() - started >= 0.04  # it waited its timeout
    os.write(w, b"xy")
    assert poller.poll(5) == [r] and poller.readable(r)
    assert poller.read(r, 4096) == b"xy"
    assert poller.read(r, 4096) == b""  # empty: no wait, no error
    assert not poller.readable(r)


def test_unregistered_descriptors_are_not_reported(pipe):
    r, w = pipe
    poller = poller_mod.Poller()
    poller.register(r)
    poller.unregister(r)
    poller.unregister(r)  # twice: ignored
    os.write(w, b"x")
    assert poller.poll(0) == []
