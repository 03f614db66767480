"""Kit: the future-returning verbs (``submit_call``, ``submit_cast``, ``submit_notify``)."""

from __future__ import annotations

import threading

import pytest

import messaging
from messaging.driver import Reply
from messaging.target import Target
from messaging.testing.helpers import Recorder, running_server

WAIT = 20.0


class Echo:
    def __init__(self) -> None:
        self.seen = Recorder()
        self.release = threading.Event()
        self.release.set()

    def echo(self, ctxt, value):
        self.release.wait(WAIT)
        self.seen.add(value)
        return value


@pytest.fixture
def served(transport, topic):
    endpoint = Echo()
    server = messaging.get_rpc_server(transport, Target(topic=topic, server="s1"), [endpoint])
    with running_server(server):
        yield endpoint


def _msg(value):
    return {"method": "echo", "args": {"value": value}}


def test_submit_call_future_gets_the_reply(transport, topic, served):
    futures = [transport.submit_call(Target(topic=topic), {}, _msg(i), timeout=WAIT)
               for i in range(10)]
    replies = [f.result(WAIT) for f in futures]
    assert all(isinstance(r, Reply) for r in replies)
    assert [r.result for r in replies] == list(range(10))


def test_submit_call_future_ends_by_itself_at_its_deadline(transport, topic):
    future = transport.submit_call(Target(topic=f"{topic}_nobody"), {}, _msg(1), timeout=1)
    with pytest.raises(messaging.MessagingTimeout):
        future.result(1 + WAIT)


def test_cancelled_call_is_abandoned_and_the_next_one_works(transport, topic, served):
    served.release.clear()
    future = transport.submit_call(Target(topic=topic), {}, _msg("slow"), timeout=WAIT)
    assert future.cancel(), "a call waiting for its reply could not be cancelled"
    assert future.cancelled()
    served.release.set()
    assert served.seen.wait_count(1) == ["slow"]  # the server still ran it (at-most-once)
    after = transport.submit_call(Target(topic=topic), {}, _msg("next"), timeout=WAIT)
    assert after.result(WAIT).result == "next"


def test_submit_cast_and_notify_complete(transport, notification_transport, topic, served):
    cast = transport.submit_cast(Target(topic=topic), {}, _msg("cast"))
    assert cast.result(WAIT) is None
    assert served.seen.wait_count(1) == ["cast"]
    notified = notification_transport.submit_notify(Target(topic=f"{topic}.info"), {}, {
        "message_id": "m", "publisher_id": "kit", "event_type": "e", "priority": "INFO",
        "payload": {}, "timestamp": "2026-01-01 00:00:00"})
    assert notified.result(WAIT) is None


def test_invalid_target_raises_at_submit(transport):
    with pytest.raises(messaging.InvalidTarget):
        transport.submit_call(Target(), {}, _msg(1), timeout=1)
