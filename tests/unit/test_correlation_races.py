"""ReplyCorrelator under races: a reply as the timer fires, a cancel against a reply, no timer left.

Each call has one timer (deadline, call-monitor gap and the server count
share it). Whatever ends a call first (reply, timeout, cancel, close), the
future ends exactly once, the call is forgotten and its timer leaves the
timer thread's heap: a process making thousands of calls a second with long
timeouts must not pile up timers.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future

import pytest

from messaging import deadlines
from messaging.correlation import ReplyCorrelator
from messaging.driver import Reply
from messaging.envelope import ReplyFrame
from messaging.exceptions import MessagingTimeout
from messaging.target import Target

ROUNDS = 200


def ending(msg_id: str, result: object = "ok") -> ReplyFrame:
    return ReplyFrame(msg_id, result, None, True)


def outcome(future: Future[Reply]) -> str:
    """'reply', 'timeout' or 'cancelled'; fails the test on anything else."""
    if future.cancelled():
        return "cancelled"
    exc = future.exception(timeout=10)
    if exc is None:
        assert future.result() == Reply(result="ok")
        return "reply"
    assert isinstance(exc, MessagingTimeout), exc
    return "timeout"


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def no_callback_errors(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.ERROR, logger="messaging")
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_reply_arriving_as_the_timer_fires_ends_the_call_once(no_callback_errors) -> None:
    c = ReplyCorrelator("reply_q", listeners=lambda target: 1)
    before = deadlines.pending()
    seen: dict[str, int] = {"reply": 0, "timeout": 0}
    for i in range(ROUNDS):
        msg_id = f"m{i}"
        ended: list[int] = []
        future = c.register(msg_id, timeout=0.01, target=Target(topic="t"), method="m")
        future.add_done_callback(lambda _f, ended=ended: ended.append(1))
        due = time.monotonic() + 0.01
        while time.monotonic() < due:  # deliver right at the deadline
            pass
        c.deliver(ending(msg_id))
        seen[outcome(future)] += 1
        assert ended == [1]
    assert seen["reply"] + seen["timeout"] == ROUNDS
    assert len(c) == 0
    # every call's timer is gone from the heap (fired or cancelled), none re-armed after the end
    assert wait_until(lambda: deadlines.pending() <= before), (deadlines.pending(), before)


def test_cancel_racing_a_reply_leaves_nothing_behind(no_callback_errors) -> None:
    c = ReplyCorrelator("reply_q", listeners=lambda target: 1)
    before = deadlines.pending()
    seen: dict[str, int] = {"reply": 0, "cancelled": 0}
    for i in range(ROUNDS):
        msg_id = f"c{i}"
        future = c.register(msg_id, timeout=60, call_monitor_timeout=30,
                            target=Target(topic="t"), method="m")
        start = threading.Barrier(2)

        def cancel(future: Future[Reply] = future, start: threading.Barrier = start) -> None:
            start.wait(5)
            future.cancel()

        thread = threading.Thread(target=cancel)
        thread.start()
        start.wait(5)
        c.deliver(ending(msg_id))  # never raises, whoever wins
        thread.join(5)
        seen[outcome(future)] += 1
    assert sum(seen.values()) == ROUNDS
    assert len(c) == 0
    assert deadlines.pending() <= before, (deadlines.pending(), before)


def test_close_racing_replies_ends_every_call_once(no_callback_errors) -> None:
    c = ReplyCorrelator("reply_q")
    before = deadlines.pending()
    futures = [c.register(f"x{i}", timeout=60) for i in range(ROUNDS)]
    start = threading.Barrier(2)

    def replies() -> None:
        start.wait(5)
        for i in range(ROUNDS):
            c.deliver(ending(f"x{i}"))

    thread = threading.Thread(target=replies)
    thread.start()
    start.wait(5)
    c.close()
    thread.join(10)
    assert all(outcome(f) in ("reply", "timeout") for f in futures)
    assert len(c) == 0
    assert deadlines.pending() <= before, (deadlines.pending(), before)


def test_calls_ended_by_replies_do_not_pile_up_timers() -> None:
    """Thousands of answered calls with a long timeout: the heap stays small (swept)."""
    c = ReplyCorrelator("reply_q", listeners=lambda target: 1)
    heap_before = len(deadlines._DEFAULT)
    for i in range(3000):
        c.register(f"p{i}", timeout=600, call_monitor_timeout=300, target=Target(topic="t"),
                   method="m")
        c.deliver(ending(f"p{i}"))
    assert len(c) == 0
    assert len(deadlines._DEFAULT) - heap_before < 1000, (len(deadlines._DEFAULT), heap_before)


def test_one_timer_per_call_also_counts_the_servers() -> None:
    """The server count still happens shortly before the deadline, and the timeout says it."""
    counted = threading.Event()

    def listeners(target: Target) -> int:
        counted.set()
        return 0

    c = ReplyCorrelator("reply_q", listeners=listeners)
    future = c.register("n1", timeout=2, target=Target(topic="t"), method="m")
    c.sent("n1")
    with pytest.raises(MessagingTimeout) as info:
        future.result(10)
    assert counted.is_set()
    assert "no server is listening" in str(info.value)
