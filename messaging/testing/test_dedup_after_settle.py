"""Kit: message ids are remembered for de-duplication only once a message is settled.

A copy of an acknowledged request is dropped (the bus redelivered it because
an acknowledgement was lost); a message given back unsettled, or requeued,
is delivered again, never mistaken for a duplicate.
"""

from __future__ import annotations

import uuid

import pytest

from messaging.target import Target
from messaging.testing.helpers import raw_notification, raw_request

WAIT = 20.0


def _hooks(transport):
    hooks = transport.driver.testing
    if hooks is None:
        pytest.skip("driver offers no testing hooks to publish raw bytes")
    return hooks


def test_copy_of_acknowledged_request_is_dropped(transport, topic):
    hooks = _hooks(transport)
    target = Target(topic=topic, server="s1")
    listener = transport.listen(target)
    try:
        same = uuid.uuid4().hex
        hooks.publish_raw(target, raw_request("work", {"n": 1}, unique_id=same))
        first = listener.poll(timeout=WAIT)
        assert [m.message["args"] for m in first] == [{"n": 1}]
        first[0].acknowledge()
        hooks.publish_raw(target, raw_request("work", {"n": 1}, unique_id=same))
        hooks.publish_raw(target, raw_request("work", {"n": 2}))
        nxt = listener.poll(timeout=WAIT)
        assert [m.message["args"] for m in nxt] == [{"n": 2}], "the duplicate was delivered"
        nxt[0].acknowledge()
    finally:
        listener.cleanup()


def test_request_given_back_unsettled_is_not_a_duplicate(transport, topic):
    if not transport.capabilities.requeue:
        pytest.skip("driver declares it cannot give messages back (requeue)")
    hooks = _hooks(transport)
    same = uuid.uuid4().hex
    first = transport.listen(Target(topic=topic, server="a"))
    second = None
    try:
        hooks.publish_raw(Target(topic=topic), raw_request("work", {"n": 3}, unique_id=same))
        taken = first.poll(timeout=WAIT)
        assert [m.message["args"] for m in taken] == [{"n": 3}]
        second = transport.listen(Target(topic=topic, server="b"))
        first.cleanup()
        again = second.poll(timeout=WAIT)
        assert [m.message["args"] for m in again] == [{"n": 3}]
        again[0].acknowledge()
    finally:
        first.cleanup()
        if second is not None:
            second.cleanup()


def test_requeued_notification_is_delivered_again(transport, topic):
    if not transport.capabilities.requeue:
        pytest.skip("driver declares it cannot requeue")
    hooks = _hooks(transport)
    target = Target(topic=f"{topic}.info")
    listener = transport.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        try:
            hooks.publish_raw_notification(
                target, raw_notification("INFO", "kit.requeued", {"n": 4},
                                         unique_id=uuid.uuid4().hex))
        except NotImplementedError:
            pytest.skip("driver cannot publish raw notifications")
        first = listener.poll(timeout=WAIT)
        assert [m.message["payload"] for m in first] == [{"n": 4}]
        first[0].requeue()
        again = listener.poll(timeout=WAIT)
        assert [m.message["payload"] for m in again] == [{"n": 4}]
        again[0].acknowledge()
    finally:
        listener.cleanup()
