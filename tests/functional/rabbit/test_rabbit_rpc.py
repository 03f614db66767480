"""RPC over the real broker: call, cast, fanout, server-targeted calls, failures, call monitor."""

from __future__ import annotations

import threading
import time

import pytest

import messaging
from messaging.driver import Reply
from messaging.exceptions import MessagingTimeout
from messaging.target import Target
from messaging.testing import wait_for

pytestmark = pytest.mark.rabbit


def test_call_returns_the_result_and_carries_the_context(driver, serve, topic):
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    reply = driver.call(Target(topic=topic), {"user": "alice", "request_id": "req-1"},
                        {"method": "add", "args": {"a": 1, "b": [1, "x"]}}, timeout=10)
    assert reply == Reply(result={"a": 1, "b": [1, "x"]})
    (msg,) = server.received
    assert msg.ctxt == {"user": "alice", "request_id": "req-1"}
    assert msg.message == {"method": "add", "args": {"a": 1, "b": [1, "x"]}}
    assert msg.wants_reply


def test_casts_are_shared_between_the_servers_of_a_topic(driver, serve, topic):
    s1 = serve(driver.listen(Target(topic=topic, server="s1")))
    s2 = serve(driver.listen(Target(topic=topic, server="s2")))
    for i in range(20):
        driver.cast(Target(topic=topic), {}, {"method": "m", "args": {"i": i}})
    wait_for(lambda: len(s1.received) + len(s2.received) >= 20, message="20 casts")
    got = sorted(m.message["args"]["i"] for m in s1.received + s2.received)
    assert got == list(range(20))
    assert not any(m.wants_reply for m in s1.received + s2.received)


def test_fanout_reaches_every_server(driver, serve, topic):
    servers = [serve(driver.listen(Target(topic=topic, server=f"s{i}"))) for i in range(3)]
    driver.cast(Target(topic=topic, fanout=True), {}, {"method": "ping", "args": {}})
    for server in servers:
        (msg,) = server.wait_count(1)
        assert msg.message["method"] == "ping"


def test_a_server_targeted_call_reaches_only_that_server(driver, serve, topic):
    s1 = serve(driver.listen(Target(topic=topic, server="s1")), lambda m: "s1")
    s2 = serve(driver.listen(Target(topic=topic, server="s2")), lambda m: "s2")
    for _ in range(5):
        reply = driver.call(Target(topic=topic, server="s2"), {}, {"method": "m", "args": {}},
                            timeout=10)
        assert reply.result == "s2"
    assert len(s2.received) == 5 and not s1.received


def test_a_failure_reply_reaches_the_caller_as_data(driver, serve, topic):
    failure = {"class": "ValueError", "module": "builtins", "message": "bad value",
               "tb": ["Traceback...\n"], "args": ["bad value"], "kwargs": {}}
    serve(driver.listen(Target(topic=topic, server="s1")), lambda m: Reply(failure=failure))
    reply = driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=10)
    assert reply.failure == failure and reply.result is None


def test_a_call_nobody_answers_times_out_on_time(driver, topic):
    start = time.monotonic()
    with pytest.raises(MessagingTimeout, match="reply queue reply_"):
        driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=1.0)
    assert 0.9 <= time.monotonic() - start < 2.5


def test_call_monitor_heartbeats_keep_a_long_call_alive(driver, serve, topic):
    def slow(msg):
        assert msg.client_timeout == 1.0
        stop = threading.Event()

        def beat():
            while not stop.wait(0.3):
                msg.heartbeat()

        beater = threading.Thread(target=beat)
        beater.start()
        time.sleep(2.5)
        stop.set()
        beater.join()
        return "done"

    serve(driver.listen(Target(topic=topic, server="s1")), slow)
    reply = driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=10,
                        call_monitor_timeout=1.0)
    assert reply.result == "done"


def test_without_heartbeats_the_call_monitor_gives_up_early(driver, serve, topic):
    release = threading.Event()
    serve(driver.listen(Target(topic=topic, server="s1")),
          lambda m: release.wait(5) and "late")
    start = time.monotonic()
    with pytest.raises(MessagingTimeout, match="heartbeat"):
        driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=10,
                    call_monitor_timeout=1.0)
    assert time.monotonic() - start < 3.0
    release.set()


class _Calculator:
    target = messaging.Target(namespace="calc", version="1.3")

    def add(self, ctxt, a, b):
        return a + b

    def fail(self, ctxt, text):
        raise ValueError(text)


@pytest.mark.amqp091_driver("rabbit")
def test_the_public_api_over_the_kombu_alias(url, topic):
    transport = messaging.get_rpc_transport(None, url.replace("rabbit://", "kombu://"))
    try:
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                          [_Calculator()], executor="threading")
        server.start()
        try:
            client = messaging.get_rpc_client(
                transport, messaging.Target(topic=topic, namespace="calc", version="1.2"),
                timeout=10)
            assert client.call({}, "add", a=2, b=3) == 5
            with pytest.raises(ValueError, match="no good"):
                client.call({}, "fail", text="no good")
        finally:
            server.stop()
            server.wait()
    finally:
        transport.cleanup()
