"""Work a connection delayed (a reply retry) is not dropped silently when it closes.

A server retries a reply whose reply queue is missing every 0.25 s (as
oslo does). Closing the server's connection runs what is still waiting,
on the connection's I/O thread before the close returns, so the reply
fails with the rest and the error is logged, naming the message: on
``rabbit://`` and ``pika://`` alike.
"""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from messaging.envelope import build_request, encode, wrap
from messaging.target import Target

pytestmark = pytest.mark.rabbit


def test_delayed_work_still_pending_runs_on_the_io_thread_when_the_connection_closes(
        driver, rmq):
    conn = driver._client_connection()
    rmq.wait_until(lambda: conn.connected, what="the client connection")
    ran: list[str] = []
    done = threading.Event()

    def later() -> None:
        ran.append(threading.current_thread().name)
        done.set()

    conn.call_later(60.0, later)
    conn.close()
    assert done.is_set(), "delayed work was dropped at close"
    assert ran == [ran[0]] and "-io-" in ran[0]


def test_a_reply_retry_pending_at_close_fails_and_is_logged(driver, serve, topic, rmq,
                                                            caplog):
    caplog.set_level(logging.DEBUG, logger="messaging_amqp091.listener")
    listener = driver.listen(Target(topic=topic, server="s1"))
    server = serve(listener)
    msg_id = uuid.uuid4().hex
    request = build_request({"method": "m", "args": {}}, {}, msg_id=msg_id,
                            reply_q=f"reply_{uuid.uuid4().hex}")  # no such queue
    driver.testing.publish_raw(Target(topic=topic), encode(wrap(request)))

    def retrying() -> bool:
        return any(msg_id in r.getMessage() and "retrying" in r.getMessage()
                   for r in caplog.records)

    rmq.wait_until(retrying, what="the server to retry the reply")
    server.stop()
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR
              and msg_id in r.getMessage()]
    assert failed, "the reply pending at close vanished without a log line"
