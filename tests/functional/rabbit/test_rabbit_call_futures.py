"""Calls are native futures: one reply correlator, no thread per call in flight.

``submit_call`` registers the call with the driver's
:class:`~messaging.correlation.ReplyCorrelator` (fed on the connection's I/O
thread); cancelling the future forgets the call, so a late reply is dropped.
"""

from __future__ import annotations

import logging
import threading

import pytest

from messaging.target import Target
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit

WAIT = 20.0


def _msg(value):
    return {"method": "echo", "args": {"value": value}}


def test_a_cancelled_call_forgets_its_late_reply(driver, serve, topic, caplog):
    started, release = threading.Event(), threading.Event()

    def slow(msg):
        started.set()
        release.wait(WAIT)
        return "late"

    server = serve(driver.listen(Target(topic=topic, server="s1")), slow)
    future = driver.submit_call(Target(topic=topic), {}, _msg(1), timeout=WAIT)
    assert started.wait(WAIT)
    assert future.cancel(), "a call waiting for its reply could not be cancelled"
    correlator = driver._replies.correlator
    assert len(correlator) == 0
    with caplog.at_level(logging.DEBUG, logger="messaging.correlation"):
        release.set()
        server.wait_count(1)
        wait_for(lambda: "late or duplicate" in caplog.text, WAIT,
                 message="the late reply to reach the client and be dropped")
    assert len(correlator) == 0
    assert future.cancelled()
    # The reply queue still serves the next call.
    assert driver.call(Target(topic=topic), {}, _msg(2), timeout=WAIT).result == "late"


def test_calls_in_flight_take_no_thread_each(driver, serve, topic):
    release = threading.Event()
    release.set()

    def slow(msg):
        release.wait(WAIT)
        return msg.message["args"]["value"]

    serve(driver.listen(Target(topic=topic, server="s1")), slow)
    driver.call(Target(topic=topic), {}, _msg(-1), timeout=WAIT, retry=None)  # warm up
    release.clear()
    before = threading.active_count()
    futures = [driver.submit_call(Target(topic=topic), {}, _msg(i), timeout=WAIT)
               for i in range(200)]
    assert threading.active_count() - before < 5
    assert len(driver._replies.correlator) == 200
    release.set()
    assert [f.result(WAIT).result for f in futures] == list(range(200))
    assert len(driver._replies.correlator) == 0


def test_cast_and_notify_futures_complete_once_confirmed(driver, serve, topic):
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    cast = driver.submit_cast(Target(topic=topic), {}, _msg("c"))
    notified = driver.submit_notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO"})
    assert cast.result(WAIT) is None
    assert notified.result(WAIT) is None
    assert server.wait_count(1)[0].message["args"] == {"value": "c"}
