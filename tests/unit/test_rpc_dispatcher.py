"""RPCDispatcher picks endpoints by namespace, version and access policy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import messaging
from messaging import (
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    NoSuchMethod,
    RPCDispatcher,
    Target,
    UnsupportedVersion,
)


class V1:
    target = Target(version="1.1")

    def ping(self, ctxt, value=None):
        return ("v1", value)

    def _private(self, ctxt):
        return "private"


class V2:
    target = Target(version="2.0")

    def ping(self, ctxt, value=None):
        return ("v2", value)


class Named:
    target = Target(namespace="ns", legacy_namespaces=["old"])

    def ping(self, ctxt):
        return "named"

    @messaging.expose
    def shown(self, ctxt):
        return "shown"


class Plain:  # no target: namespace None, version 1.0
    def ping(self, ctxt):
        return "plain"

    attribute = "not callable"


def incoming(method, ctxt=None, **extra):
    message = {"method": method, "args": extra.pop("args", {}), **extra}
    return SimpleNamespace(ctxt=ctxt or {}, message=message)


def test_first_compatible_endpoint_wins():
    d = RPCDispatcher([V1(), V2()])
    assert d.dispatch(incoming("ping", args={"value": 1})) == ("v1", 1)
    assert d.dispatch(incoming("ping", version="2.0")) == ("v2", None)
    assert d.dispatch(incoming("ping", version="1.1")) == ("v1", None)


def test_default_version_is_1_0():
    assert RPCDispatcher([Plain()]).dispatch(incoming("ping")) == "plain"


def test_incompatible_version():
    with pytest.raises(UnsupportedVersion) as info:
        RPCDispatcher([V1(), V2()]).dispatch(incoming("ping", version="1.2"))
    assert info.value.version == "1.2" and info.value.method == "ping"


def test_missing_method_on_compatible_endpoint():
    with pytest.raises(NoSuchMethod) as info:
        RPCDispatcher([V1()]).dispatch(incoming("pong"))
    assert info.value.method == "pong"


def test_namespace_and_legacy_namespace():
    d = RPCDispatcher([Plain(), Named()])
    assert d.dispatch(incoming("ping", namespace="ns")) == "named"
    assert d.dispatch(incoming("ping", namespace="old")) == "named"
    assert d.dispatch(incoming("ping")) == "plain"
    with pytest.raises(UnsupportedVersion):
        d.dispatch(incoming("ping", namespace="other"))


def test_private_and_non_callable_names_are_refused():
    d = RPCDispatcher([V1(), Plain()])
    with pytest.raises(NoSuchMethod):
        d.dispatch(incoming("_private"))
    with pytest.raises(NoSuchMethod):
        d.dispatch(incoming("attribute"))


def test_legacy_policy_allows_private():
    d = RPCDispatcher([V1()], access_policy=LegacyRPCAccessPolicy)
    assert d.dispatch(incoming("_private")) == "private"


def test_explicit_policy_needs_expose():
    d = RPCDispatcher([Named()], access_policy=ExplicitRPCAccessPolicy)
    assert d.dispatch(incoming("shown", namespace="ns")) == "shown"
    with pytest.raises(NoSuchMethod):
        d.dispatch(incoming("ping", namespace="ns"))


def test_policy_must_be_a_class():
    with pytest.raises(TypeError):
        RPCDispatcher([V1()], access_policy=LegacyRPCAccessPolicy())  # type: ignore[arg-type]


def test_endpoint_target_must_be_a_target():
    class Bad:
        target = "nope"

    with pytest.raises(TypeError):
        RPCDispatcher([Bad()])


def test_endpoints_list_is_not_mutated():
    endpoints = [V1()]
    RPCDispatcher(endpoints).dispatch(incoming("ping"))
    assert len(endpoints) == 1


def test_serializer_sees_context_args_and_result():
    calls = []

    class Recording(messaging.NoOpSerializer):
        def deserialize_context(self, ctxt):
            calls.append(("ctx", ctxt))
            return {"wrapped": ctxt}

        def deserialize_entity(self, ctxt, entity):
            calls.append(("in", entity))
            return entity * 2

        def serialize_entity(self, ctxt, entity):
            calls.append(("out", entity))
            return {"result": entity}

    class Echo:
        def echo(self, ctxt, value):
            assert ctxt == {"wrapped": {"u": 1}}
            return value

    d = RPCDispatcher([Echo()], serializer=Recording())
    assert d.dispatch(incoming("echo", ctxt={"u": 1}, args={"value": 3})) == {"result": 6}
    assert calls == [("ctx", {"u": 1}), ("in", 3), ("out", 6)]
