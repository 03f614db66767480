"""The shared timer thread: callbacks run at their time, in order, and can be cancelled."""

from __future__ import annotations

import threading
import time

from messaging.deadlines import Deadlines


def test_callbacks_run_in_deadline_order():
    d = Deadlines("test-deadlines")
    ran: list[str] = []
    done = threading.Event()
    d.after(0.2, lambda: (ran.append("late"), done.set()))
    d.after(0.05, lambda: ran.append("early"))
    assert done.wait(5)
    assert ran == ["early", "late"]


def test_an_earlier_deadline_added_later_wakes_the_thread():
    d = Deadlines("test-deadlines")
    fired = threading.Event()
    d.after(30, lambda: None)
    began = time.monotonic()
    d.after(0.05, fired.set)
    assert fired.wait(5)
    assert time.monotonic() - began < 2


def test_cancelled_callback_does_not_run():
    d = Deadlines("test-deadlines")
    ran: list[int] = []
    done = threading.Event()
    d.after(0.05, lambda: ran.append(1)).cancel()
    d.after(0.1, done.set)
    assert done.wait(5)
    assert ran == []


def test_a_failing_callback_does_not_stop_the_thread():
    d = Deadlines("test-deadlines")
    done = threading.Event()
    d.after(0.01, lambda: 1 / 0)
    d.after(0.05, done.set)
    assert done.wait(5)
