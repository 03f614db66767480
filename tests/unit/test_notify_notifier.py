"""Notifier: message fields, priorities, topics, drivers from conf, retry, prepare, contexts."""

from __future__ import annotations

import datetime
import logging
import re
import uuid
from typing import Any

import pytest

from messaging import JsonPayloadSerializer, Target
from messaging.driver import Driver as TransportDriver
from messaging.exceptions import DriverLoadFailure, MessageDeliveryFailure
from messaging.notify import Notifier, NotifierDriverLoadFailure
from messaging.transport import Transport
from messaging.url import TransportURL


class RecordingDriver(TransportDriver):
    """A transport driver that only records notify() calls (and can be told to fail)."""

    def __init__(self) -> None:
        super().__init__(None, TransportURL.parse("fake://"))
        self.sent: list[dict[str, Any]] = []
        self.fail_topics: set[str] = set()

    def notify(self, target, ctxt, message, *, version=2.0, retry=None):
        if target.topic in self.fail_topics:
            raise MessageDeliveryFailure(f"cannot reach {target.topic}")
        self.sent.append({"target": target, "ctxt": dict(ctxt), "message": dict(message),
                          "version": version, "retry": retry})

    def call(self, *a, **k):
        raise NotImplementedError

    cast = listen = listen_for_notifications = call


def make_transport(conf: Any = None) -> tuple[Transport, RecordingDriver]:
    drv = RecordingDriver()
    return Transport(drv, conf), drv


class RedactableContext:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def redacted_copy(self) -> RedactableContext:
        return RedactableContext(**{k: v for k, v in self.values.items() if k != "auth_token"})

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)


PRIORITY_METHODS = [("audit", "AUDIT"), ("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARN"),
                    ("warning", "WARN"), ("error", "ERROR"), ("critical", "CRITICAL"),
                    ("sample", "SAMPLE")]


@pytest.mark.parametrize(("method", "priority"), PRIORITY_METHODS)
def test_each_method_sends_its_priority_to_topic_dot_priority(method, priority):
    transport, drv = make_transport()
    notifier = Notifier(transport, "compute.host1", driver="messagingv2", topics=["notif"])
    getattr(notifier, method)({}, "compute.instance.create.end", {"id": 7})
    [sent] = drv.sent
    assert sent["target"] == Target(topic=f"notif.{priority.lower()}")
    assert sent["target"].exchange is None
    assert sent["message"]["priority"] == priority
    assert sent["version"] == 2.0


def test_message_fields_and_formats():
    transport, drv = make_transport()
    notifier = Notifier(transport, "compute.host1", driver="messagingv2")
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    notifier.info({}, "compute.instance.create.end", {"id": 7})
    after = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    message = drv.sent[0]["message"]
    assert set(message) == {"message_id", "publisher_id", "event_type", "priority", "payload",
                            "timestamp"}
    assert str(uuid.UUID(message["message_id"])) == message["message_id"]  # dashed uuid
    assert uuid.UUID(message["message_id"]).version == 4
    assert message["publisher_id"] == "compute.host1"
    assert message["event_type"] == "compute.instance.create.end"
    assert message["payload"] == {"id": 7}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", message["timestamp"])
    stamp = datetime.datetime.strptime(message["timestamp"], "%Y-%m-%d %H:%M:%S.%f")
    assert before <= stamp <= after  # UTC, not local time


def test_message_ids_differ():
    transport, drv = make_transport()
    notifier = Notifier(transport, driver="messaging")
    notifier.info({}, "e", 1)
    notifier.info({}, "e", 2)
    assert drv.sent[0]["message"]["message_id"] != drv.sent[1]["message"]["message_id"]


def test_messaging_driver_sends_version_1():
    transport, drv = make_transport()
    Notifier(transport, driver="messaging").error({}, "e", {})
    assert drv.sent[0]["version"] == 1.0


def test_default_topic_is_notifications_and_each_topic_gets_a_copy():
    transport, drv = make_transport()
    Notifier(transport, driver="messagingv2").info({}, "e", {})
    assert [s["target"].topic for s in drv.sent] == ["notifications.info"]
    drv.sent.clear()
    Notifier(transport, driver="messagingv2", topics=["a", "b"]).warning({}, "e", {})
    assert [s["target"].topic for s in drv.sent] == ["a.warn", "b.warn"]


def test_seed_topic_keyword():
    transport, drv = make_transport()
    notifier = Notifier(transport, driver="messaging", topic="notification_3")
    notifier.error(ctxt={}, event_type="this is type", payload={"hello": "world"})
    notifier.warn(ctxt={}, event_type="this is type", payload={"hello": "world"})
    assert [s["target"].topic for s in drv.sent] == ["notification_3.error",
                                                    "notification_3.warn"]
    with pytest.raises(TypeError):
        Notifier(transport, driver="messaging", topic="a", topics=["b"])


def test_drivers_topics_and_retry_from_mapping_conf():
    conf = {"oslo_messaging_notifications": {"driver": "messagingv2,messaging",
                                             "topics": "x,y", "retry": "3"}}
    transport, drv = make_transport(conf)
    notifier = Notifier(transport)
    assert list(notifier.drivers) == ["messagingv2", "messaging"]
    notifier.info({}, "e", {})
    assert [(s["target"].topic, s["version"], s["retry"]) for s in drv.sent] == [
        ("x.info", 2.0, 3), ("y.info", 2.0, 3), ("x.info", 1.0, 3), ("y.info", 1.0, 3)]


def test_conf_from_oslo_config():
    cfg = pytest.importorskip("oslo_config.cfg")
    import messaging.notify.options  # noqa: F401  (registers the group's table)
    from messaging.options import register_opts

    conf = cfg.ConfigOpts()
    conf([])
    register_opts(conf, ["oslo_messaging_notifications"])
    conf.set_override("driver", ["messagingv2"], group="oslo_messaging_notifications")
    conf.set_override("topics", ["versioned"], group="oslo_messaging_notifications")
    transport, drv = make_transport(conf)
    Notifier(transport).sample({}, "e", {})
    assert drv.sent[0]["target"].topic == "versioned.sample"


def test_retry_minus_one_means_forever_for_the_transport():
    transport, drv = make_transport()
    notifier = Notifier(transport, driver="messagingv2")
    assert notifier.retry == -1  # conf default
    notifier.info({}, "e", {})
    assert drv.sent[-1]["retry"] is None  # the transport's "forever"
    Notifier(transport, driver="messagingv2", retry=0).info({}, "e", {})
    assert drv.sent[-1]["retry"] == 0
    Notifier(transport, driver="messagingv2", retry=5).info({}, "e", {})
    assert drv.sent[-1]["retry"] == 5


def test_prepare_shares_drivers_and_overrides_publisher_and_retry():
    transport, drv = make_transport()
    base = Notifier(transport, "base", driver="messagingv2", topics=["t"], retry=1)
    sub = base.prepare(publisher_id="other")
    assert sub.drivers["messagingv2"] is base.drivers["messagingv2"]
    sub.info({}, "e", {})
    assert drv.sent[-1]["message"]["publisher_id"] == "other"
    assert drv.sent[-1]["retry"] == 1
    assert drv.sent[-1]["target"].topic == "t.info"
    base.prepare(retry=4).prepare(publisher_id="x").info({}, "e", {})
    assert (drv.sent[-1]["message"]["publisher_id"], drv.sent[-1]["retry"]) == ("x", 4)
    base.info({}, "e", {})
    assert (drv.sent[-1]["message"]["publisher_id"], drv.sent[-1]["retry"]) == ("base", 1)
    assert sub.is_enabled()


@pytest.mark.parametrize(("driver", "enabled"), [
    (None, False), ([], False), ("noop", False), (["noop", "noop"], False),
    ("messagingv2", True), (["noop", "log"], True), ("test", True)])
def test_is_enabled(driver, enabled):
    transport, drv = make_transport()
    notifier = Notifier(transport, driver=driver)
    assert notifier.is_enabled() is enabled
    notifier.info({}, "e", {})
    if not enabled:
        assert drv.sent == []


def test_unknown_driver_is_a_clear_error():
    transport, _ = make_transport()
    with pytest.raises(NotifierDriverLoadFailure, match=r"nosuch.*installed.*messagingv2") as e:
        Notifier(transport, driver=["messagingv2", "nosuch"])
    assert isinstance(e.value, DriverLoadFailure)


def test_plain_dict_context_is_not_sent(caplog):
    transport, drv = make_transport()
    notifier = Notifier(transport, driver="messagingv2")
    with caplog.at_level(logging.DEBUG, logger="messaging.notify.notifier"):
        notifier.info({"auth_token": "s3cr3t", "user": "u"}, "e", {})
    assert drv.sent[0]["ctxt"] == {}
    assert "dict context" in caplog.text
    notifier.info(None, "e", {})
    assert drv.sent[1]["ctxt"] == {}


def test_redactable_context_is_sent_redacted():
    transport, drv = make_transport()
    notifier = Notifier(transport, driver="messagingv2")
    notifier.info(RedactableContext(user="u", auth_token="s3cr3t"), "e", {})
    assert drv.sent[0]["ctxt"] == {"user": "u"}


def test_context_object_without_redacted_copy_is_dropped_with_a_warning(caplog):
    class Opaque:
        def to_dict(self) -> dict[str, Any]:
            return {"auth_token": "s3cr3t"}

    transport, drv = make_transport()
    with caplog.at_level(logging.WARNING):
        Notifier(transport, driver="messagingv2").info(Opaque(), "e", {})
    assert drv.sent[0]["ctxt"] == {}
    assert "redacted_copy" in caplog.text


def test_payload_goes_through_the_serializer_with_the_original_context():
    seen = []

    class Upper(JsonPayloadSerializer):
        def serialize_entity(self, ctxt, entity):
            seen.append(ctxt)
            return {k: str(v).upper() for k, v in entity.items()}

    transport, drv = make_transport()
    ctxt = {"user": "u"}
    Notifier(transport, driver="messagingv2", serializer=Upper()).info(ctxt, "e", {"a": "b"})
    assert drv.sent[0]["message"]["payload"] == {"a": "B"}
    assert seen == [ctxt]


def test_failing_driver_is_logged_with_event_type_and_never_raises(caplog):
    transport, drv = make_transport()
    drv.fail_topics = {"bad.info"}
    notifier = Notifier(transport, driver=["messagingv2", "test"], topics=["bad", "good"])
    with caplog.at_level(logging.ERROR):
        notifier.info({}, "compute.boom", {})
    dropped = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("compute.boom" in m and "INFO" in m and "bad.info" in m for m in dropped), dropped
    assert [s["target"].topic for s in drv.sent] == ["good.info"]  # other topic still sent
    assert len(notifier.drivers["test"].notifications) == 1  # other driver still ran


def test_exception_in_a_driver_does_not_stop_the_others(caplog):
    transport, _ = make_transport()
    notifier = Notifier(transport, driver=["log", "test"])

    def boom(*args: Any) -> None:
        raise RuntimeError("driver bug")

    notifier.drivers["log"].notify = boom  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        notifier.critical({}, "compute.oops", {})
    assert "'log'" in caplog.text and "compute.oops" in caplog.text
    assert notifier.drivers["test"].notifications[0][2] == "CRITICAL"


def test_unserializable_payload_is_logged_not_raised(caplog):
    class Broken(JsonPayloadSerializer):
        def serialize_entity(self, ctxt, entity):
            raise ValueError("cannot")

    transport, drv = make_transport()
    with caplog.at_level(logging.ERROR):
        Notifier(transport, driver="messagingv2", serializer=Broken()).info({}, "e.x", {})
    assert drv.sent == [] and "e.x" in caplog.text
