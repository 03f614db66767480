"""ReplyCorrelator: calls as futures, ended by replies, deadlines, monitor gaps, failures, close."""

from __future__ import annotations

import time
from concurrent.futures import Future

import pytest

from messaging.correlation import ReplyCorrelator
from messaging.driver import Reply
from messaging.envelope import ReplyFrame
from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.target import Target


def frame(msg_id, result=None, failure=None, ending=True):
    return ReplyFrame(msg_id, result, failure, ending)


def test_final_reply_completes_the_call_and_forgets_it():
    c = ReplyCorrelator("reply_q")
    future = c.register("m1", timeout=10)
    assert len(c) == 1
    assert c.deliver(frame("m1", result={"x": 1}))
    assert future.result(1) == Reply(result={"x": 1})
    assert len(c) == 0
    assert not c.deliver(frame("m1", result=2))  # late duplicate: nobody waits


def test_failure_reply_is_returned_as_data():
    c = ReplyCorrelator("q")
    future = c.register("m1", timeout=10)
    c.deliver(frame("m1", failure={"class": "ValueError"}))
    assert future.result(1) == Reply(failure={"class": "ValueError"})


def test_result_then_ending_frame_keeps_the_result():
    """oslo's historic two-message reply: the result first, then an empty ending frame."""
    c = ReplyCorrelator("q")
    future = c.register("m1", timeout=10)
    c.deliver(frame("m1", result=42, ending=False))
    assert not future.done()
    c.deliver(frame("m1", ending=True))
    assert future.result(1).result == 42


def test_deadline_ends_the_future_by_itself():
    c = ReplyCorrelator("reply_abc")
    began = time.monotonic()
    future = c.register("m1", timeout=0.3, target=Target(topic="t"), method="ping")
    with pytest.raises(MessagingTimeout) as info:
        future.result(5)
    assert 0.25 <= time.monotonic() - began < 3
    text = str(info.value)
    assert "m1" in text and "reply_abc" in text and "'ping'" in text and "topic=t" in text
    assert "the bus did not accept the request" in text
    assert len(c) == 0


def test_timeout_text_says_the_request_was_sent():
    c = ReplyCorrelator("q")
    future = c.register("m1", timeout=0.2)
    c.sent("m1")
    with pytest.raises(MessagingTimeout, match="the bus accepted the request"):
        future.result(5)


def test_state_callback_is_appended_to_timeouts():
    c = ReplyCorrelator("q", state=lambda: "the broker is unreachable: refused")
    with pytest.raises(MessagingTimeout, match="broker is unreachable: refused"):
        c.register("m1", timeout=0.1).result(5)


def test_heartbeats_keep_a_monitored_call_alive():
    c = ReplyCorrelator("q")
    future = c.register("m1", timeout=10, call_monitor_timeout=0.4)
    end = time.monotonic() + 1.2
    while time.monotonic() < end:
        c.deliver(frame("m1", ending=False))  # heartbeat
        time.sleep(0.1)  # the server's heartbeat cadence, well inside the 0.4 s monitor
    assert not future.done(), "a call with heartbeats was ended by its monitor"
    c.deliver(frame("m1", result="done"))
    assert future.result(1).result == "done"


def test_missing_heartbeat_ends_a_monitored_call():
    c = ReplyCorrelator("q")
    began = time.monotonic()
    future = c.register("m1", timeout=30, call_monitor_timeout=0.3)
    with pytest.raises(MessagingTimeout, match="call-monitor heartbeat"):
        future.result(5)
    assert time.monotonic() - began < 3


def test_failed_send_fails_the_call_at_once():
    c = ReplyCorrelator("q")
    future = c.register("m1", timeout=30)
    send: Future[None] = Future()
    c.track_send("m1", send)
    send.set_exception(MessageDeliveryFailure("refused"))
    with pytest.raises(MessageDeliveryFailure, match="refused"):
        future.result(1)


def test_send_dropped_at_its_deadline_leaves_the_call_to_its_own_timeout():
    c = ReplyCorrelator("q")
    future = c.register("m1", timeout=0.3)
    send: Future[None] = Future()
    c.track_send("m1", send)
    send.set_exception(MessagingTimeout("not sent before its deadline"))
    with pytest.raises(MessagingTimeout, match="Timed out waiting for a reply"):
        future.result(5)


def test_close_ends_every_call_and_refuses_new_ones():
    c = ReplyCorrelator("q")
    futures = [c.register(f"m{i}", timeout=60) for i in range(5)]
    c.close("the transport was cleaned up")
    for f in futures:
        with pytest.raises(MessagingTimeout, match="cleaned up"):
            f.result(1)
    late = c.register("late", timeout=60)
    with pytest.raises(MessagingTimeout):
        late.result(1)
    assert len(c) == 0


def test_cancelling_a_call_forgets_it():
    c = ReplyCorrelator("q")
    future = c.register("m1", timeout=60)
    assert future.cancel()
    assert len(c) == 0
    assert not c.deliver(frame("m1", result=1))
