"""Serializers convert entities and contexts."""

from __future__ import annotations

import datetime
import uuid

import pytest

from messaging import JsonPayloadSerializer, NoOpSerializer, RequestContextSerializer


class Ctx:
    def __init__(self, **values):
        self.values = values

    def to_dict(self):
        return dict(self.values)

    @classmethod
    def from_dict(cls, values):
        return cls(**values)


def test_noop_passes_entities_through():
    s = NoOpSerializer()
    obj = object()
    assert s.serialize_entity({}, obj) is obj and s.deserialize_entity({}, obj) is obj
    assert s.serialize_context(None) == {}
    assert s.serialize_context(Ctx(user="u")) == {"user": "u"}


def test_noop_refuses_odd_context():
    with pytest.raises(TypeError, match="context"):
        NoOpSerializer().serialize_context(42)


def test_json_payload_serializer_makes_primitives():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    ident = uuid.UUID(int=1)
    out = JsonPayloadSerializer().serialize_entity({}, {"t": when, "s": {1}, "u": ident,
                                                        "tuple": (1, 2)})
    assert out == {"t": "2026-01-02T03:04:05", "s": [1], "u": str(ident), "tuple": [1, 2]}


def test_request_context_serializer_rebuilds_context_class():
    s = RequestContextSerializer(JsonPayloadSerializer(), context_class=Ctx)
    wire = s.serialize_context(Ctx(user="u", roles=["a"]))
    assert wire == {"user": "u", "roles": ["a"]}
    rebuilt = s.deserialize_context(wire)
    assert isinstance(rebuilt, Ctx) and rebuilt.values == wire
    assert s.serialize_entity(None, (1,)) == [1]
