"""The bytes on the bus are oslo.messaging's: bodies, AMQP properties, replies, tolerance.

Messages are captured and injected with raw kombu, so these tests do not
depend on our own parsing.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

import kombu
import pytest
from kombu.serialization import dumps as kombu_dumps

from messaging.driver import Reply
from messaging.target import Target

pytestmark = pytest.mark.rabbit

HEX32 = re.compile("[0-9a-f]{32}")


@pytest.fixture
def raw(url, raw_url):
    """A raw kombu connection to the test vhost."""
    conn = kombu.Connection(raw_url)
    yield conn
    conn.release()


def _grab(raw, queue: str, timeout: float = 10.0):
    """Fetch one message from ``queue`` with basic.get (ack it)."""
    ch = raw.default_channel
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = ch.basic_get(queue, no_ack=True)
        if msg is not None:
            return msg
        time.sleep(0.02)
    raise AssertionError(f"nothing arrived on {queue}")


def _topic_queue(raw, name: str, exchange: str = "openstack") -> None:
    """Declare ``name`` bound to the control exchange exactly as oslo does."""
    ex = kombu.Exchange(exchange, "topic", durable=False, auto_delete=False)
    kombu.Queue(name, ex, name, durable=False, auto_delete=False,
                channel=raw.default_channel).declare()


def _bytes(body: bytes | str) -> bytes:
    """py-amqp hands out bodies with a content_encoding already decoded."""
    return body if isinstance(body, bytes) else body.encode("utf-8")


def _assert_oslo_body(body: bytes | str) -> dict:
    """``body`` is kombu's JSON of the 2.0 envelope; return the inner dict."""
    body = _bytes(body)
    outer = json.loads(body)
    assert set(outer) == {"oslo.version", "oslo.message"} and outer["oslo.version"] == "2.0"
    assert isinstance(outer["oslo.message"], str)
    assert kombu_dumps(outer, serializer="json")[2].encode() == body
    inner = json.loads(outer["oslo.message"])
    assert json.dumps(inner) == outer["oslo.message"]  # oslo's jsonutils.dumps defaults
    return inner


def _assert_oslo_properties(msg, expiration: bool) -> None:
    props = msg.properties
    assert props["content_type"] == "application/json"
    assert props["content_encoding"] == "utf-8"
    assert props["delivery_mode"] == 2
    assert props["priority"] == 0
    assert not props.get("application_headers")
    assert ("expiration" in props) == expiration
    assert not {"reply_to", "correlation_id", "message_id"} & set(props)


def test_a_call_request_is_oslos(driver, raw, topic):
    _topic_queue(raw, topic)
    result = {}

    def call():
        result["reply"] = driver.call(
            Target(topic=topic), {"user": "alice"},
            {"method": "add", "args": {"a": 1}, "namespace": "ns1", "version": "1.3"},
            timeout=5.0, call_monitor_timeout=4)

    caller = threading.Thread(target=call)
    caller.start()
    msg = _grab(raw, topic)
    _assert_oslo_properties(msg, expiration=True)
    assert 3000 < int(msg.properties["expiration"]) <= 5000
    inner = _assert_oslo_body(msg.body)
    assert list(inner)[:6] == ["method", "args", "namespace", "version", "_msg_id", "_reply_q"]
    assert inner["method"] == "add" and inner["args"] == {"a": 1}
    assert HEX32.fullmatch(inner["_msg_id"]) and HEX32.fullmatch(inner["_unique_id"])
    assert re.fullmatch("reply_[0-9a-f]{32}", inner["_reply_q"])
    assert inner["_timeout"] == 4 and inner["_context_user"] == "alice"
    assert msg.delivery_info["exchange"] == "openstack"
    assert msg.delivery_info["routing_key"] == topic
    # Answer as an oslo server would, so the call ends now.
    kombu.Producer(raw.default_channel).publish(
        {"oslo.version": "2.0", "oslo.message": json.dumps(
            {"result": 2, "failure": None, "ending": True, "_msg_id": inner["_msg_id"],
             "_unique_id": uuid.uuid4().hex})},
        exchange="", routing_key=inner["_reply_q"], serializer="json")
    caller.join(10)
    assert result["reply"].result == 2


def test_casts_fanouts_and_server_casts_are_oslos(driver, raw, topic):
    _topic_queue(raw, topic)
    _topic_queue(raw, f"{topic}.s9")
    driver.cast(Target(topic=topic), {"a": 1}, {"method": "m", "args": {}})
    driver.cast(Target(topic=topic, server="s9"), {}, {"method": "n", "args": {}})
    msg = _grab(raw, topic)
    _assert_oslo_properties(msg, expiration=False)
    inner = _assert_oslo_body(msg.body)
    assert set(inner) == {"method", "args", "_unique_id", "_context_a"}
    assert _assert_oslo_body(_grab(raw, f"{topic}.s9").body)["method"] == "n"

    fanout = kombu.Exchange(f"{topic}_fanout", "fanout", durable=False, auto_delete=True)
    q = kombu.Queue(f"{topic}_fanout_{uuid.uuid4().hex}", fanout, topic,
                    queue_arguments={"x-expires": 1800000}, channel=raw.default_channel)
    q.declare()
    driver.cast(Target(topic=topic, fanout=True), {}, {"method": "f", "args": {}})
    msg = _grab(raw, q.name)
    assert msg.delivery_info["exchange"] == f"{topic}_fanout"
    assert msg.delivery_info["routing_key"] == ""
    assert _assert_oslo_body(msg.body)["method"] == "f"


def test_notifications_are_oslos_in_both_versions(driver, raw, topic):
    payload = {"message_id": str(uuid.uuid4()), "publisher_id": "compute.host1",
               "event_type": "compute.instance.create.end", "priority": "INFO",
               "payload": {"id": 7}, "timestamp": "2026-11-24 13:48:39.126231"}
    driver.notify(Target(topic=f"{topic}.info"), {}, payload, version=2.0)
    driver.notify(Target(topic=f"{topic}.info"), {}, payload, version=1.0)
    v2, v1 = _grab(raw, f"{topic}.info"), _grab(raw, f"{topic}.info")
    _assert_oslo_properties(v2, expiration=False)
    _assert_oslo_properties(v1, expiration=False)
    inner = _assert_oslo_body(v2.body)
    assert list(inner) == [*payload, "_unique_id"]
    bare = json.loads(v1.body)
    assert "oslo.version" not in bare and bare["event_type"] == payload["event_type"]
    assert kombu_dumps(bare, serializer="json")[2].encode() == _bytes(v1.body)


def _raw_request(raw, topic: str, reply_q: str, inner: dict) -> None:
    body = {"oslo.version": "2.0", "oslo.message": json.dumps(inner)}
    kombu.Producer(raw.default_channel).publish(body, exchange="openstack", routing_key=topic,
                                                serializer="json")


def test_replies_and_heartbeats_are_oslos(driver, serve, raw, topic):
    def handler(msg):
        msg.heartbeat()
        return {"sum": 4}

    serve(driver.listen(Target(topic=topic, server="s1")), handler)
    reply_q = f"reply_{uuid.uuid4().hex}"
    kombu.Queue(reply_q, queue_arguments={"x-expires": 1800000},
                channel=raw.default_channel).declare()
    _raw_request(raw, topic, reply_q, {"method": "add", "args": {}, "_msg_id": "m1",
                                       "_reply_q": reply_q, "_timeout": 2,
                                       "_unique_id": uuid.uuid4().hex})
    beat, final = _grab(raw, reply_q), _grab(raw, reply_q)
    for msg in (beat, final):
        _assert_oslo_properties(msg, expiration=False)
        assert msg.delivery_info["exchange"] == ""
        assert msg.delivery_info["routing_key"] == reply_q
    inner = _assert_oslo_body(beat.body)
    assert {k: inner[k] for k in ("result", "failure", "ending", "_msg_id")} == {
        "result": None, "failure": None, "ending": False, "_msg_id": "m1"}
    inner = _assert_oslo_body(final.body)
    assert list(inner) == ["result", "failure", "ending", "_msg_id", "_unique_id"]
    assert inner["result"] == {"sum": 4} and inner["failure"] is None
    assert inner["ending"] is True and HEX32.fullmatch(inner["_unique_id"])


def test_a_failure_travels_as_a_json_string(driver, serve, raw, topic):
    failure = {"class": "ValueError", "module": "builtins", "message": "('bad value', 42)",
               "tb": ["Traceback\n"], "args": ["bad value", 42], "kwargs": {}}
    serve(driver.listen(Target(topic=topic, server="s1")), lambda m: Reply(failure=failure))
    reply_q = f"reply_{uuid.uuid4().hex}"
    kombu.Queue(reply_q, channel=raw.default_channel).declare()
    _raw_request(raw, topic, reply_q, {"method": "m", "args": {}, "_msg_id": "m2",
                                       "_reply_q": reply_q, "_unique_id": uuid.uuid4().hex})
    inner = _assert_oslo_body(_grab(raw, reply_q).body)
    assert inner["result"] is None and isinstance(inner["failure"], str)
    assert json.loads(inner["failure"]) == failure


def _fake_oslo_server(raw, topic: str, frames):
    """Answer one request on ``topic`` with ``frames(msg_id)`` (raw reply dicts)."""
    _topic_queue(raw, topic)

    def run():
        msg = _grab(raw, topic)
        request = json.loads(json.loads(msg.body)["oslo.message"])
        producer = kombu.Producer(raw.default_channel)
        for frame in frames(request["_msg_id"]):
            producer.publish({"oslo.version": "2.0", "oslo.message": json.dumps(frame)},
                             exchange="", routing_key=request["_reply_q"], serializer="json")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_client_tolerates_old_and_odd_replies(driver, raw, topic):
    # No "failure" key, extra keys: the final reply still counts.
    t = _fake_oslo_server(raw, topic, lambda mid: [
        {"result": 5, "ending": True, "_msg_id": mid, "_context_traceparent": "x"}])
    assert driver.call(Target(topic=topic), {}, {"method": "m", "args": {}},
                       timeout=10).result == 5
    t.join()
    # Pre-4.0 servers: a result, then a bare ending; the last non-None result wins.
    t = _fake_oslo_server(raw, topic, lambda mid: [
        {"result": 7, "failure": None, "ending": False, "_msg_id": mid},
        {"result": None, "failure": None, "ending": True, "_msg_id": mid}])
    assert driver.call(Target(topic=topic), {}, {"method": "m", "args": {}},
                       timeout=10).result == 7
    t.join()


def test_a_server_accepts_unenveloped_1_0_requests(driver, serve, raw, topic):
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    kombu.Producer(raw.default_channel).publish(
        {"method": "old", "args": {"x": 1}, "_context_user": "bob"}, exchange="openstack",
        routing_key=topic, serializer="json")
    (msg,) = server.wait_count(1)
    assert msg.message == {"method": "old", "args": {"x": 1}} and msg.ctxt == {"user": "bob"}
