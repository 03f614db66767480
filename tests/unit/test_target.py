"""Target is oslo.messaging's plain, mutable object; the library copies what it keeps."""

from __future__ import annotations

import threading
import uuid

import pytest
from messaging_fake.driver import FakeDriver

import messaging
from messaging import Target, TransportURL
from messaging.testing.helpers import running_server
from messaging.transport import RPCTransport


def test_fields_can_be_set_after_construction():
    target = Target(topic="compute")
    target.server = "host1"
    target.version = "5.1"
    target.fanout = True
    assert (target.topic, target.server, target.version, target.fanout) == (
        "compute", "host1", "5.1", True)


def test_equal_by_value_hashed_by_identity_as_oslo():
    a = Target(topic="t", server="s", namespace="n")
    b = Target(topic="t", server="s", namespace="n")
    assert a == b and not a != b
    assert a != Target(topic="t", server="other")
    assert len({a, b}) == 2  # oslo's __hash__ is id(self)


def test_a_target_stays_a_usable_dict_key_after_a_change():
    target = Target(topic="t")
    servers = {target: "s1"}
    target.server = "moved"
    assert servers[target] == "s1"


def test_call_and_replace_copy_with_overrides():
    t = Target(exchange="e", topic="t", version="1.0")
    assert t(server="s") == Target(exchange="e", topic="t", version="1.0", server="s")
    assert t.replace(topic="u").topic == "u"
    assert t.topic == "t" and t.server is None


def test_copy_is_independent():
    t = Target(topic="t", legacy_namespaces=["old"])
    c = t.copy()
    c.topic = "u"
    c.legacy_namespaces.append("older")
    assert (t.topic, t.legacy_namespaces) == ("t", ["old"])


def test_accepted_namespaces_follow_the_namespace():
    t = Target(namespace="new", legacy_namespaces=["old1", "old2"])
    assert t.accepted_namespaces == ["new", "old1", "old2"]
    t.namespace = "newer"
    assert t.accepted_namespaces == ["newer", "old1", "old2"]


def test_repr_shows_set_fields_only_as_oslo():
    assert repr(Target(topic="t", fanout=True)) == "<Target topic=t, fanout=True>"
    assert str(Target(topic="t", server="s")) == "<Target topic=t, server=s>"


class _Endpoint:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.event = threading.Event()

    def note(self, ctxt, value):
        self.seen.append(value)
        self.event.set()


def test_a_running_server_does_not_follow_later_changes_to_its_target(transport):
    target = Target(topic="t_copy", server="s1")
    endpoint = _Endpoint()
    server = messaging.get_rpc_server(transport, target, [endpoint])
    with running_server(server):
        target.server = "s2"  # after start: the subscription stays on s1
        target.topic = "elsewhere"
        client = messaging.get_rpc_client(transport, Target(topic="t_copy", server="s1"))
        client.cast({}, "note", value="to s1")
        assert endpoint.event.wait(10)
    assert endpoint.seen == ["to s1"]


def test_a_server_target_changed_before_start_is_honoured(transport):
    target = Target(topic="t_before", server="s1")
    endpoint = _Endpoint()
    server = messaging.get_rpc_server(transport, target, [endpoint])
    target.server = "s2"  # oslo services set fields between building and starting
    with running_server(server):
        messaging.get_rpc_client(transport, Target(topic="t_before", server="s2")).cast(
            {}, "note", value="to s2")
        assert endpoint.event.wait(10)


def test_a_client_sends_to_its_target_as_it_is_at_send_time(transport):
    endpoint = _Endpoint()
    server = messaging.get_rpc_server(transport, Target(topic="t_late", server="s1"),
                                      [endpoint])
    target = Target(topic="nobody_listens")
    client = messaging.get_rpc_client(transport, target, timeout=10)
    target.topic = "t_late"  # oslo's client reads its target at each send
    with running_server(server):
        client.cast({}, "note", value="late topic")
        assert endpoint.event.wait(10)


class _RecordingDriver(FakeDriver):
    """The fake driver, recording the targets the transport hands it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.got: list[object] = []

    def listen(self, target):
        self.got.append(target)
        return super().listen(target)

    def listen_for_notifications(self, targets_and_priorities, pool=None):
        self.got.append(list(targets_and_priorities))
        return super().listen_for_notifications(targets_and_priorities, pool)

    def cast(self, target, ctxt, message, *, retry=None):
        self.got.append(target)
        super().cast(target, ctxt, message, retry=retry)


@pytest.fixture
def recording():
    driver = _RecordingDriver(None, TransportURL.parse(f"fake:///t-{uuid.uuid4().hex}"))
    transport = RPCTransport(driver)
    yield driver, transport
    transport.cleanup()


def test_the_driver_gets_copies_of_targets(recording):
    driver, transport = recording
    target = Target(topic="t", server="s")
    transport.listen(target).cleanup()
    transport.cast(target, {}, {"method": "m", "args": {}})
    assert driver.got == [target, target]
    assert all(got is not target for got in driver.got)


def test_notification_targets_equal_by_value_reach_the_driver_once(recording):
    driver, transport = recording
    first = Target(topic="n")
    transport.listen_for_notifications([(first, "info"), (Target(topic="n"), "info"),
                                        (first, "error")]).cleanup()
    assert driver.got == [[(Target(topic="n"), "info"), (Target(topic="n"), "error")]]
    assert driver.got[0][0][0] is not first
