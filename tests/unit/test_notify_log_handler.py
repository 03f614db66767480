"""Logging handlers that send notifications: LoggingNotificationHandler and the error handler."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from messaging import Target
from messaging.notify import (
    LoggingErrorNotificationHandler,
    LoggingNotificationHandler,
    PublishErrorsHandler,
    get_notification_listener,
)
from messaging.testing import Recorder, running_server
from messaging.transport import get_notification_transport


@contextmanager
def attached(handler: logging.Handler, name: str | None = None) -> Iterator[logging.Logger]:
    logger = logging.getLogger(name if name is not None else f"app.{uuid.uuid4().hex[:8]}")
    old_level = logger.level
    logger.addHandler(handler)
    if name is not None or logger.level == logging.NOTSET:
        logger.setLevel(logging.DEBUG)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()


def sent(handler) -> list[tuple[str, dict]]:
    return [(p, m) for _, m, p, _ in handler.notifier.drivers["test"].notifications]


def test_records_become_logrecord_notifications_at_their_level():
    handler = LoggingNotificationHandler("fake://", publisher_id="svc", driver="test")
    with attached(handler) as logger:
        logger.debug("d %s", 1)
        logger.info("i")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        logger.log(25, "custom level: ignored")
    got = sent(handler)
    assert [p for p, _ in got] == ["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"]
    _, message = got[0]
    assert message["event_type"] == "logrecord" and message["publisher_id"] == "svc"
    payload = message["payload"]
    assert payload["msg"] == "d 1" and payload["levelname"] == "DEBUG"
    assert payload["levelno"] == logging.DEBUG and payload["name"].startswith("app.")
    assert payload["lineno"] > 0 and payload["pathname"].endswith(".py")
    assert payload["funcName"] == "test_records_become_logrecord_notifications_at_their_level"
    assert set(payload) == {"name", "levelno", "levelname", "exc_info", "pathname", "lineno",
                            "msg", "funcName", "thread", "processName", "process", "extra"}
    assert payload["exc_info"] is None


def test_exception_info_is_sent_as_text():
    handler = LoggingNotificationHandler("fake://", driver="test")
    with attached(handler) as logger:
        try:
            raise ValueError("kaboom")
        except ValueError:
            logger.exception("failed")
    [(_, message)] = sent(handler)
    assert "ValueError: kaboom" in message["payload"]["exc_info"]


def test_without_oslo_config_the_handler_sends_with_messagingv2(monkeypatch):
    monkeypatch.setitem(sys.modules, "oslo_config", None)  # not installed: no configuration
    topic = f"lh_{uuid.uuid4().hex[:12]}"
    rec = Recorder()

    class Endpoint:
        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add((publisher_id, event_type, payload["msg"]))

    with get_notification_transport(None, "fake://") as transport:
        listener = get_notification_listener(transport, [Target(topic=topic)], [Endpoint()])
        handler = LoggingNotificationHandler("fake://", "svc", topic=topic)
        assert list(handler.notifier.drivers) == ["messagingv2"]
        with running_server(listener), attached(handler) as logger:
            logger.error("over the bus")
            assert rec.wait_count(1) == [("svc", "logrecord", "over the bus")]


def test_serializer_class_or_instance_is_accepted():
    from messaging import JsonPayloadSerializer

    for serializer in (JsonPayloadSerializer, JsonPayloadSerializer()):
        handler = LoggingNotificationHandler("fake://", driver="test", serializer=serializer)
        assert isinstance(handler.notifier._serializer, JsonPayloadSerializer)
        handler.close()


def test_log_driver_does_not_loop_back_into_the_handler():
    handler = LoggingNotificationHandler("fake://", driver=["log", "test"])
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        logging.getLogger(f"app.{uuid.uuid4().hex[:8]}").warning("once")
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        handler.close()
    # The log driver logged the notification to oslo.messaging.notification.logrecord, which
    # reached this same root handler: it must not have been sent again.
    assert [m["payload"]["msg"] for _, m in sent(handler)] == ["once"]


def test_error_handler_sends_error_notifications():
    handler = LoggingErrorNotificationHandler(logging.ERROR, url="fake://", driver="test")
    with attached(handler) as logger:
        logger.warning("not an error")
        logger.error("disk %s failed", "sda")
        logger.critical("meltdown")
    got = sent(handler)
    assert [(p, m["event_type"], m["payload"], m["publisher_id"]) for p, m in got] == [
        ("ERROR", "error_notification", {"error": "disk %s failed"}, "error.publisher"),
        ("ERROR", "error_notification", {"error": "meltdown"}, "error.publisher")]
    assert PublishErrorsHandler is LoggingErrorNotificationHandler


def test_error_handler_stays_quiet_when_the_log_driver_is_used():
    handler = LoggingErrorNotificationHandler(url="fake://", driver=["log", "test"])
    with attached(handler) as logger:
        logger.error("would recurse")
    assert sent(handler) == []


def test_error_handler_uses_a_given_transport_and_leaves_it_open():
    with get_notification_transport({"oslo_messaging_notifications": {"driver": "test"}},
                                    "fake://") as transport:
        handler = LoggingErrorNotificationHandler(transport=transport)
        assert handler.notifier.transport is transport
        with attached(handler) as logger:
            logger.error("x")
        assert [m["payload"] for _, m in sent(handler)] == [{"error": "x"}]


def test_close_cleans_up_the_transport_it_built(monkeypatch):
    handler = LoggingNotificationHandler("fake://", driver="test")
    closed = []
    monkeypatch.setattr(handler.notifier.transport, "cleanup", lambda: closed.append(True))
    handler.close()
    handler.close()
    assert closed == [True]


def test_bad_driver_fails_at_construction():
    from messaging.notify import NotifierDriverLoadFailure

    with pytest.raises(NotifierDriverLoadFailure):
        LoggingNotificationHandler("fake://", driver="nosuch")
