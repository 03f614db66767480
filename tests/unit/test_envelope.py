"""The oslo envelope is built and parsed as oslo.messaging's rabbit driver does."""

from __future__ import annotations

import json

import pytest

from messaging import envelope


def test_request_inner_dict_has_oslo_keys():
    inner = envelope.build_request({"method": "add", "args": {"a": 1}, "namespace": "ns"},
                                   {"user": "alice"}, msg_id="m1", reply_q="reply_x",
                                   timeout=10)
    assert inner["_msg_id"] == "m1" and inner["_reply_q"] == "reply_x"
    assert inner["_timeout"] == 10 and inner["_context_user"] == "alice"
    assert len(inner["_unique_id"]) == 32


def test_cast_has_no_call_keys():
    inner = envelope.build_request({"method": "m", "args": {}}, {})
    assert "_msg_id" not in inner and "_reply_q" not in inner and "_timeout" not in inner


def test_envelope_is_double_encoded():
    body = envelope.encode(envelope.wrap({"method": "m", "args": {}}))
    outer = json.loads(body)
    assert outer["oslo.version"] == "2.0"
    assert isinstance(outer["oslo.message"], str)
    assert json.loads(outer["oslo.message"]) == {"method": "m", "args": {}}


def test_request_round_trip():
    inner = envelope.build_request({"method": "m", "args": {"x": [1]}}, {"u": 1},
                                   msg_id="id", reply_q="q", timeout=None)
    req = envelope.parse_request(envelope.unwrap(envelope.decode(
        envelope.encode(envelope.wrap(inner)))))
    assert req.message == {"method": "m", "args": {"x": [1]}}
    assert req.ctxt == {"u": 1} and req.msg_id == "id" and req.reply_q == "q"
    assert req.client_timeout is None


def test_unenveloped_message_is_accepted():
    req = envelope.parse_request(envelope.unwrap({"method": "m", "_context_a": 1}))
    assert req.message == {"method": "m"} and req.ctxt == {"a": 1}


def test_reply_failure_is_a_json_string():
    inner = envelope.build_reply("m1", failure={"class": "ValueError"})
    assert inner["ending"] is True and inner["result"] is None
    assert json.loads(inner["failure"]) == {"class": "ValueError"}
    frame = envelope.parse_reply(inner)
    assert frame.failure == {"class": "ValueError"} and frame.ending


def test_heartbeat_is_not_ending():
    frame = envelope.parse_reply(envelope.build_heartbeat("m1"))
    assert frame.msg_id == "m1" and frame.ending is False


def test_reply_without_ending_counts_as_not_ending():
    assert envelope.parse_reply({"result": 1, "_msg_id": "m"}).ending is False


@pytest.mark.parametrize("body", [
    b"garbage", b"\xff", b"[1]", b'"s"',
    b'{"oslo.version": "3.0", "oslo.message": "{}"}',
    b'{"oslo.version": "2.1", "oslo.message": "{}"}',
    b'{"oslo.version": "2.0", "oslo.message": "[1]"}',
    b'{"oslo.version": "2.0", "oslo.message": "{nope"}',
])
def test_malformed_bodies_raise_malformed_message(body):
    with pytest.raises(envelope.MalformedMessage):
        envelope.parse_request(envelope.unwrap(envelope.decode(body)))


def test_request_without_method_is_malformed():
    with pytest.raises(envelope.MalformedMessage, match="method"):
        envelope.parse_request({"args": {}})


def test_notification_round_trip():
    message = {"message_id": "x", "priority": "INFO", "event_type": "e", "payload": {}}
    inner = envelope.build_notification(message, {"user": "u"})
    ctxt, parsed = envelope.parse_notification(inner)
    assert ctxt == {"user": "u"} and parsed == message


def test_unserializable_value_raises_type_error():
    with pytest.raises(TypeError, match="Serializer"):
        envelope.dumps({"x": object()})
