"""Target is an immutable value with copy-with-overrides."""

from __future__ import annotations

import dataclasses

import pytest

from messaging import Target


def test_equal_targets_hash_equal():
    a = Target(topic="t", server="s", namespace="n")
    b = Target(topic="t", server="s", namespace="n")
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1


def test_target_is_immutable():
    t = Target(topic="t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.topic = "other"  # type: ignore[misc]


def test_call_and_replace_copy_with_overrides():
    t = Target(exchange="e", topic="t", version="1.0")
    assert t(server="s") == Target(exchange="e", topic="t", version="1.0", server="s")
    assert t.replace(topic="u").topic == "u"
    assert t.topic == "t"


def test_accepted_namespaces_include_legacy():
    t = Target(namespace="new", legacy_namespaces=["old1", "old2"])
    assert t.accepted_namespaces == ("new", "old1", "old2")
    assert hash(t) == hash(Target(namespace="new", legacy_namespaces=("old1", "old2")))


def test_str_shows_set_fields_only():
    assert str(Target(topic="t", fanout=True)) == "<Target topic=t, fanout=True>"
