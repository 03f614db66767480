"""NotificationFilter: regex screens on each part of a notification."""

from __future__ import annotations

import re

import pytest

from messaging.notify import NotificationFilter

CTXT = {"user": "bob", "project": "p1", "roles": ["admin"]}
META = {"message_id": "99863dda-97f0-443a-a0c1-6ed317b7fd45",
        "timestamp": "2026-11-24 13:48:39.126231"}
PAYLOAD = {"state": "active", "flavor": {"name": "m1.small", "ram": 2048}, "count": 3}


def matches(**rules):
    return NotificationFilter(**rules).match(CTXT, "compute.host1", "compute.instance.create",
                                             META, PAYLOAD)


@pytest.mark.parametrize(("rules", "expected"), [
    ({}, True),
    ({"publisher_id": "^compute"}, True),
    ({"publisher_id": "host1"}, False),  # re.match: anchored at the start
    ({"publisher_id": ".*host1$"}, True),
    ({"event_type": r"compute\.instance\..*"}, True),
    ({"event_type": "image"}, False),
    ({"context": {"user": "^bob$"}}, True),
    ({"context": {"user": "^alice$"}}, False),
    ({"context": {"missing": ".*"}}, False),  # the key must be present
    ({"context": {"roles": ".*"}}, False),  # non-str value: mismatch
    ({"metadata": {"timestamp": "^2026-11"}}, True),
    ({"metadata": {"message_id": "^0"}}, False),
    ({"payload": {"state": "^(active|error)$"}}, True),
    ({"payload": {"state": "^error$"}}, False),
    ({"payload": {"flavor": {"name": r"^m1\."}}}, True),  # nested dicts
    ({"payload": {"flavor": {"name": "^m2"}}}, False),
    ({"payload": {"flavor": {"ram": "2048"}}}, False),  # int value never matches
    ({"payload": {"state": {"deeper": ".*"}}}, False),  # dict rule on a str value
    ({"publisher_id": "^compute", "payload": {"state": "^error$"}}, False),  # all must pass
    ({"publisher_id": "^compute", "event_type": "^compute", "context": {"project": "p"},
      "metadata": {"message_id": "^9"}, "payload": {"count": ".*"}}, False),
    ({"publisher_id": "^compute", "event_type": "^compute", "context": {"project": "p"},
      "metadata": {"message_id": "^9"}, "payload": {"state": "act"}}, True),
])
def test_match(rules, expected):
    assert matches(**rules) is expected


def test_non_str_publisher_or_event_type_do_not_match():
    screen = NotificationFilter(publisher_id=".*", event_type=".*")
    assert not screen.match({}, None, "e", {}, {})
    assert not screen.match({}, "p", 5, {}, {})
    assert screen.match({}, "p", "e", {}, {})


def test_payload_that_is_not_a_dict_fails_a_payload_rule():
    screen = NotificationFilter(payload={"a": ".*"})
    assert not screen.match({}, "p", "e", {}, "plain string")
    assert not screen.match({}, "p", "e", {}, None)
    assert NotificationFilter().match({}, "p", "e", {}, None)


def test_context_object_is_read_through_to_dict():
    class Ctx:
        def to_dict(self):
            return {"user": "bob"}

    assert NotificationFilter(context={"user": "^bob"}).match(Ctx(), "p", "e", {}, {})
    assert not NotificationFilter(context={"user": "^al"}).match(Ctx(), "p", "e", {}, {})


def test_bad_pattern_fails_at_construction():
    with pytest.raises(re.error):
        NotificationFilter(event_type="(")
