"""Notifier drivers: log (levels, masking), test (collection), noop, and the entry points."""

from __future__ import annotations

import json
import logging
from importlib import metadata

import pytest

from messaging.notify import Notifier
from messaging.notify import drivers as notify_drivers
from messaging.notify.drivers import LogDriver, MessagingDriver, mask_secrets
from messaging.transport import get_notification_transport


@pytest.fixture
def transport():
    with get_notification_transport(None, "fake://") as t:
        yield t


def test_entry_points_point_at_these_classes():
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="messaging.notify.drivers")}
    assert eps == {
        "messaging": "messaging.notify.drivers:MessagingDriver",
        "messagingv2": "messaging.notify.drivers:MessagingV2Driver",
        "log": "messaging.notify.drivers:LogDriver",
        "routing": "messaging.notify.routing:RoutingDriver",
        "test": "messaging.notify.drivers:TestDriver",
        "noop": "messaging.notify.drivers:NoOpDriver",
    }
    for value in eps.values():
        module, cls = value.split(":")
        assert isinstance(getattr(__import__(module, fromlist=[cls]), cls), type)


@pytest.mark.parametrize(("method", "level"), [
    ("audit", logging.INFO), ("debug", logging.DEBUG), ("info", logging.INFO),
    ("warn", logging.WARNING), ("error", logging.ERROR), ("critical", logging.CRITICAL),
    ("sample", logging.DEBUG)])
def test_log_driver_logs_json_at_the_priority_level(transport, caplog, method, level):
    notifier = Notifier(transport, "pub", driver="log")
    with caplog.at_level(logging.DEBUG, logger="oslo.messaging.notification"):
        getattr(notifier, method)({}, "compute.start", {"id": 1})
    [record] = [r for r in caplog.records if r.name == "oslo.messaging.notification.compute.start"]
    assert record.levelno == level
    body = json.loads(record.getMessage())
    assert body["payload"] == {"id": 1} and body["publisher_id"] == "pub"
    assert body["priority"] == method.upper()


def test_log_driver_masks_secrets(transport, caplog):
    notifier = Notifier(transport, driver="log")
    payload = {"user": "bob", "password": "hunter2", "nested": {"auth_token": "tok123"},
               "items": [{"admin_pass": "x1"}], "cmd": "login --password=hunter3 now",
               "adminPass": "x2"}
    with caplog.at_level(logging.INFO, logger="oslo.messaging.notification"):
        notifier.info({}, "user.login", payload)
    text = caplog.records[-1].getMessage()
    for secret in ("hunter2", "tok123", "x1", "hunter3", "x2"):
        assert secret not in text
    body = json.loads(text)["payload"]
    assert body["user"] == "bob" and body["password"] == "***"
    assert body["nested"]["auth_token"] == "***" and body["items"][0]["admin_pass"] == "***"
    assert body["cmd"] == "login --password=*** now"
    assert payload["password"] == "hunter2"  # the caller's payload is untouched


def test_log_driver_respects_logger_level(transport, caplog):
    logger = logging.getLogger("oslo.messaging.notification.quiet")
    logger.setLevel(logging.ERROR)
    try:
        with caplog.at_level(logging.DEBUG):
            Notifier(transport, driver="log").info({}, "quiet", {})
            assert not [r for r in caplog.records if r.name == logger.name]
            Notifier(transport, driver="log").error({}, "quiet", {})
            assert [r for r in caplog.records if r.name == logger.name]
    finally:
        logger.setLevel(logging.NOTSET)


def test_mask_secrets_leaves_other_values():
    assert mask_secrets({"a": 1, "b": [1, "x"], "c": None}) == {"a": 1, "b": [1, "x"], "c": None}
    assert mask_secrets('{"password": "p"}') == '{"password": "***"}'
    assert mask_secrets({"db_password": ["a", "b"]}) == {"db_password": "***"}


def test_log_driver_logger_base():
    assert LogDriver.LOGGER_BASE == "oslo.messaging.notification"


def test_test_driver_collects_per_instance_and_module_wide(transport):
    notify_drivers.reset_test_notifications()
    first = Notifier(transport, "p1", driver="test", retry=3)
    second = Notifier(transport, "p2", driver="test")
    payload = {"k": [1]}
    first.info({}, "e1", payload)
    payload["k"].append(2)  # later changes do not alter what was recorded
    second.error({}, "e2", {})
    [(ctxt, message, priority, retry)] = first.drivers["test"].notifications
    assert (ctxt, priority, retry) == ({}, "INFO", 3)
    assert message["payload"] == {"k": [1]} and message["publisher_id"] == "p1"
    assert [m["event_type"] for _, m, _, _ in second.drivers["test"].notifications] == ["e2"]
    everything = notify_drivers.get_test_notifications()
    assert [(m["event_type"], p) for _, m, p, _ in everything] == [("e1", "INFO"),
                                                                    ("e2", "ERROR")]
    notify_drivers.reset_test_notifications()
    assert notify_drivers.get_test_notifications() == []


def test_noop_driver_sends_nothing(transport):
    notify_drivers.reset_test_notifications()
    notifier = Notifier(transport, driver="noop")
    notifier.info({}, "e", {})
    assert notifier.drivers["noop"] is not None
    assert notify_drivers.get_test_notifications() == []


def test_messaging_driver_needs_a_transport():
    with pytest.raises(ValueError, match="transport"):
        MessagingDriver(None, ["t"], None)
