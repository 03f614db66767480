"""Notification listeners on fake://: dispatch by priority, arguments, subscriptions, checks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from messaging_fake import FakeDriver

from messaging import ExecutorLoadFailure, InvalidTarget, NoOpSerializer, NotSupported, Target
from messaging.driver import Capabilities
from messaging.notify import NotificationResult, Notifier, get_notification_listener
from messaging.notify.dispatcher import PRIORITIES
from messaging.testing import Recorder, running_server
from messaging.transport import NotificationTransport, get_notification_transport
from messaging.url import TransportURL


@pytest.fixture
def transport():
    with get_notification_transport(None, "fake://") as t:
        yield t


@pytest.fixture
def topic():
    return f"t_{uuid.uuid4().hex[:12]}"


class AllPriorities:
    """Records (priority, ctxt, publisher_id, event_type, payload, metadata)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def __getattr__(self, name: str) -> Any:
        if name not in PRIORITIES:
            raise AttributeError(name)

        def method(ctxt, publisher_id, event_type, payload, metadata):
            self.recorder.add((name, ctxt, publisher_id, event_type, payload, metadata))
            return NotificationResult.HANDLED
        return method


class RedactableContext:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def redacted_copy(self) -> RedactableContext:
        return RedactableContext(**{k: v for k, v in self.values.items() if k != "auth_token"})

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)


def test_every_priority_reaches_the_method_of_its_name(transport, topic):
    rec = Recorder()
    listener = get_notification_listener(transport, [Target(topic=topic)], [AllPriorities(rec)])
    notifier = Notifier(transport, "compute.host1", driver=["messagingv2", "test"],
                        topics=[topic])
    methods = ["audit", "debug", "info", "warn", "warning", "error", "critical", "sample"]
    with running_server(listener):
        for method in methods:
            getattr(notifier, method)({}, f"ev.{method}", {"m": method})
        got = rec.wait_count(len(methods))
    sent = {m["event_type"]: m for _, m, _, _ in notifier.drivers["test"].notifications}
    assert sorted(g[0] for g in got) == sorted(
        ["audit", "debug", "info", "warn", "warn", "error", "critical", "sample"])
    for priority, ctxt, publisher_id, event_type, payload, metadata in got:
        message = sent[event_type]
        assert priority == message["priority"].lower()
        assert ctxt == {}
        assert publisher_id == "compute.host1"
        assert payload == message["payload"]
        assert metadata == {"message_id": message["message_id"],
                            "timestamp": message["timestamp"]}


def test_version_1_notifications_are_received(transport, topic):
    rec = Recorder()
    listener = get_notification_listener(transport, [Target(topic=topic)], [AllPriorities(rec)])
    with running_server(listener):
        Notifier(transport, "p", driver="messaging", topics=[topic]).error({}, "e", {"x": 1})
        [(priority, _, _, event_type, payload, _)] = rec.wait_count(1)
    assert (priority, event_type, payload) == ("error", "e", {"x": 1})


def test_only_implemented_priorities_are_subscribed(transport, topic):
    class InfoAndError:
        def info(self, *args):
            pass

        def error(self, *args):
            pass

    class Sample:
        def sample(self, *args):
            pass

        warn = "not callable"

    subscribed = []
    real = transport.listen_for_notifications

    def spy(pairs, pool=None):
        subscribed.extend(pairs)
        return real(pairs, pool)

    transport.listen_for_notifications = spy
    targets = [Target(topic=topic), Target(topic=topic + "_b", exchange="other")]
    listener = get_notification_listener(transport, targets, [InfoAndError(), Sample()])
    with running_server(listener):
        pass
    assert subscribed == [(t, p) for t in targets for p in ("info", "error", "sample")]


def test_every_target_is_listened_to(transport, topic):
    rec = Recorder()
    targets = [Target(topic=topic + "_1"), Target(topic=topic + "_2")]
    listener = get_notification_listener(transport, targets, [AllPriorities(rec)])
    with running_server(listener):
        Notifier(transport, driver="messagingv2", topics=[topic + "_1"]).info({}, "one", {})
        Notifier(transport, driver="messagingv2", topics=[topic + "_2"]).info({}, "two", {})
        got = rec.wait_count(2)
    assert sorted(g[3] for g in got) == ["one", "two"]


def test_endpoints_of_one_priority_are_all_called_in_order(transport, topic):
    rec = Recorder()

    class First:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add(("first", payload))

    class Second:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add(("second", payload))
            return None  # None counts as handled

    listener = get_notification_listener(transport, [Target(topic=topic)], [First(), Second()],
                                         executor="blocking")
    with running_server(listener):
        Notifier(transport, driver="messagingv2", topics=[topic]).info({}, "e", 1)
        assert rec.wait_count(2) == [("first", 1), ("second", 1)]


def test_listener_serializer_rebuilds_context_and_payload(transport, topic):
    rec = Recorder()

    class Tagging(NoOpSerializer):
        def deserialize_context(self, ctxt):
            return {"rebuilt": dict(ctxt)}

        def deserialize_entity(self, ctxt, entity):
            return ("entity", entity, ctxt["rebuilt"].get("user"))

    listener = get_notification_listener(transport, [Target(topic=topic)], [AllPriorities(rec)],
                                         serializer=Tagging())
    with running_server(listener):
        notifier = Notifier(transport, driver="messagingv2", topics=[topic])
        notifier.info(RedactableContext(user="bob", auth_token="s3cr3t"), "e", {"a": 1})
        [(_, ctxt, _, _, payload, _)] = rec.wait_count(1)
    assert ctxt == {"rebuilt": {"user": "bob"}}  # redacted context travelled
    assert payload == ("entity", {"a": 1}, "bob")


def test_plain_dict_context_does_not_reach_the_listener(transport, topic):
    rec = Recorder()
    listener = get_notification_listener(transport, [Target(topic=topic)], [AllPriorities(rec)])
    with running_server(listener):
        Notifier(transport, driver="messagingv2", topics=[topic]).info(
            {"auth_token": "s3cr3t"}, "e", {})
        [(_, ctxt, *_)] = rec.wait_count(1)
    assert ctxt == {}


def test_filter_rule_screens_an_endpoint(transport, topic):
    from messaging.notify import NotificationFilter

    rec = Recorder()

    class ComputeOnly:
        filter_rule = NotificationFilter(publisher_id="^compute", payload={"state": "^active$"})

        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add(("compute", event_type))

    class Everything:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add(("all", event_type))

    listener = get_notification_listener(transport, [Target(topic=topic)],
                                         [ComputeOnly(), Everything()], executor="blocking")
    with running_server(listener):
        compute = Notifier(transport, "compute.1", driver="messagingv2", topics=[topic])
        image = compute.prepare(publisher_id="image.1")
        compute.info({}, "c.active", {"state": "active"})
        compute.info({}, "c.error", {"state": "error"})
        image.info({}, "i.active", {"state": "active"})
        got = rec.wait_count(4)
    assert got == [("compute", "c.active"), ("all", "c.active"), ("all", "c.error"),
                   ("all", "i.active")]


def test_seed_style_listener_with_two_endpoints(transport, topic):
    rec = Recorder()

    class NotificationEndpoint:
        def warn(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add("warn")
            return NotificationResult.HANDLED

    class ErrorEndpoint:
        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add("error")
            return NotificationResult.HANDLED

    targets = [Target(topic=topic + "_1"), Target(topic=topic + "_2")]
    server = get_notification_listener(transport, targets,
                                       [NotificationEndpoint(), ErrorEndpoint()])
    with running_server(server):
        notifier = Notifier(transport, driver="messaging", topic=topic + "_2")
        notifier.error(ctxt={}, event_type="this is type", payload={"hello": "world"})
        notifier.warn(ctxt={}, event_type="this is type", payload={"hello": "world"})
        assert sorted(rec.wait_count(2)) == ["error", "warn"]


def test_listener_attributes(transport, topic):
    targets = [Target(topic=topic)]
    listener = get_notification_listener(transport, targets, [AllPriorities(Recorder())],
                                         allow_requeue=True, pool="p")
    assert (listener.targets, listener.allow_requeue, listener.pool) == (targets, True, "p")
    assert listener.executor_type == "threading"
    assert not listener.running


@pytest.mark.parametrize(("targets", "error"), [
    ([], InvalidTarget), ([Target()], InvalidTarget), (Target(topic="t"), TypeError),
    (["t"], TypeError)])
def test_bad_targets_are_refused(transport, targets, error):
    with pytest.raises(error):
        get_notification_listener(transport, targets, [AllPriorities(Recorder())])


def test_endpoints_without_priority_methods_are_refused(transport):
    class Nothing:
        def other(self, *args):
            pass

    with pytest.raises(ValueError, match="priority"):
        get_notification_listener(transport, [Target(topic="t")], [Nothing()])
    with pytest.raises(ValueError, match="priority"):
        get_notification_listener(transport, [Target(topic="t")], [])


def test_bad_executor_is_refused(transport):
    with pytest.raises(ExecutorLoadFailure):
        get_notification_listener(transport, [Target(topic="t")], [AllPriorities(Recorder())],
                                  executor="nosuch")


class _NoRequeueNoPools(FakeDriver):
    """The in-memory driver declaring less than it can: what a simpler bus would say."""

    capabilities = Capabilities(requeue=False, pools=False)


def test_requeue_and_pools_need_the_driver_capability():
    transport = NotificationTransport(_NoRequeueNoPools(None, TransportURL.parse("fake://")))
    endpoints = [AllPriorities(Recorder())]
    with pytest.raises(NotSupported, match="requeue"):
        get_notification_listener(transport, [Target(topic="t")], endpoints,
                                  allow_requeue=True)
    with pytest.raises(NotSupported, match="pools"):
        get_notification_listener(transport, [Target(topic="t")], endpoints, pool="p")
    get_notification_listener(transport, [Target(topic="t")], endpoints)  # neither: fine
    transport.cleanup()
