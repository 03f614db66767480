"""The logging handlers follow the service's [oslo_messaging_notifications], as oslo's.

oslo.log builds ``PublishErrorsHandler(logging.ERROR)`` and nothing else;
the handler must then send where the service's configuration says: its
notification driver, topics and transport_url (oslo.config's global
``cfg.CONF``, or the class attribute ``CONF``).
"""

from __future__ import annotations

import logging
import uuid

import pytest

from messaging import Target
from messaging.notify import (
    LoggingNotificationHandler,
    PublishErrorsHandler,
    get_notification_listener,
)
from messaging.notify.drivers import get_test_notifications, reset_test_notifications
from messaging.testing import Recorder, running_server
from messaging.transport import get_notification_transport

cfg = pytest.importorskip("oslo_config.cfg")


def _service_conf(tmp_path, drivers: str, topic: str, vhost: str):
    path = tmp_path / f"{uuid.uuid4().hex}.conf"
    driver_lines = "\n".join(f"driver = {d}" for d in drivers.split(","))
    path.write_text(f"""
[DEFAULT]
transport_url = fake:///not-for-notifications

[oslo_messaging_notifications]
{driver_lines}
topics = {topic}
transport_url = fake:///{vhost}
""")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    return conf


def _log_through(handler: logging.Handler, *records: tuple[int, str]) -> None:
    logger = logging.getLogger(f"svc.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        for level, text in records:
            logger.log(level, text)
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def global_conf(monkeypatch, tmp_path):
    """Stand a service's ConfigOpts in for oslo.config's global cfg.CONF."""
    topic, vhost = f"errs_{uuid.uuid4().hex[:8]}", f"n-{uuid.uuid4().hex}"
    conf = _service_conf(tmp_path, "messagingv2", topic, vhost)
    monkeypatch.setattr(cfg, "CONF", conf)
    return conf, topic, vhost


def test_publish_errors_handler_built_as_oslo_log_does_follows_cfg_conf(global_conf):
    _conf, topic, vhost = global_conf
    rec = Recorder()

    class Endpoint:
        def error(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add((publisher_id, event_type, payload))

    handler = PublishErrorsHandler(logging.ERROR)
    try:
        assert handler.notifier.transport.url.virtual_host == vhost
        with get_notification_transport(None, f"fake:///{vhost}") as transport:
            listener = get_notification_listener(transport, [Target(topic=topic)],
                                                 [Endpoint()])
            with running_server(listener):
                _log_through(handler, (logging.WARNING, "ignored"), (logging.ERROR, "disk"))
                assert rec.wait_count(1) == [("error.publisher", "error_notification",
                                              {"error": "disk"})]
    finally:
        handler.close()


def test_publish_errors_handler_is_quiet_with_the_services_log_driver(monkeypatch, tmp_path):
    conf = _service_conf(tmp_path, "log,test", "t", f"n-{uuid.uuid4().hex}")
    monkeypatch.setattr(cfg, "CONF", conf)
    reset_test_notifications()
    handler = PublishErrorsHandler(logging.ERROR)
    try:
        _log_through(handler, (logging.ERROR, "would recurse"))
    finally:
        handler.close()
    assert get_test_notifications() == []


def test_publish_errors_handler_sends_nothing_when_the_service_configured_no_driver(
        monkeypatch, tmp_path):
    path = tmp_path / "no-driver.conf"
    path.write_text(f"[DEFAULT]\ntransport_url = fake:///{uuid.uuid4().hex}\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    monkeypatch.setattr(cfg, "CONF", conf)
    handler = PublishErrorsHandler(logging.ERROR)
    try:
        assert handler.notifier.drivers == {} and not handler.notifier.is_enabled()
    finally:
        handler.close()


def test_logging_handler_with_a_url_takes_driver_and_topics_from_the_conf(global_conf):
    _conf, topic, _vhost = global_conf
    rec = Recorder()

    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            rec.add(payload["msg"])

    url = f"fake:///{uuid.uuid4().hex}"
    handler = LoggingNotificationHandler(url)
    try:
        assert list(handler.notifier.drivers) == ["messagingv2"]
        with get_notification_transport(None, url) as transport:
            listener = get_notification_listener(transport, [Target(topic=topic)],
                                                 [Endpoint()])
            with running_server(listener):
                _log_through(handler, (logging.INFO, "hello"))
                assert rec.wait_count(1) == ["hello"]
    finally:
        handler.close()


def test_a_subclass_follows_its_own_CONF(tmp_path):
    vhost = f"n-{uuid.uuid4().hex}"

    class Handler(LoggingNotificationHandler):
        CONF = _service_conf(tmp_path, "test", "t", vhost)

    reset_test_notifications()
    handler = Handler(None)
    try:
        assert handler.notifier.transport.url.virtual_host == vhost
        _log_through(handler, (logging.WARNING, "careful"))
    finally:
        handler.close()
    [(_ctxt, message, priority, _retry)] = get_test_notifications()
    assert (message["event_type"], priority) == ("logrecord", "WARN")
