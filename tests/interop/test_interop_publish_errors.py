"""PublishErrorsHandler built as oslo.log builds it, ours and oslo's side by side.

oslo.log creates ``PublishErrorsHandler(logging.ERROR)`` with nothing else;
the handler must follow the service's ``[oslo_messaging_notifications]``
(here: RabbitMQ, ``messagingv2``, a private topic). Both libraries' handlers
must put the same notification on the wire.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from logging_helpers import logger_with_only

import messaging
from messaging.notify import get_notification_listener

pytestmark = pytest.mark.rabbit


class _Endpoint:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, object]] = []

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self.seen.append((publisher_id, event_type, payload))


def _service(tmp_path, oslo_conf, monkeypatch, topic: str, url: str) -> None:
    """Write the service's configuration file and make it oslo.config's cfg.CONF."""
    from oslo_config import cfg

    path = tmp_path / "service.conf"
    path.write_text(f"[oslo_messaging_notifications]\ndriver = messagingv2\n"
                    f"topics = {topic}\ntransport_url = {url}\n")
    oslo_conf(["--config-file", str(path)])
    monkeypatch.setattr(cfg, "CONF", oslo_conf)


def _published(handler: logging.Handler, endpoint: _Endpoint, wait, records, count: int):
    """Log ``records`` through a DEBUG logger with only ``handler``; the error payloads."""
    with logger_with_only(handler) as logger:
        for level, msg in records:
            logger.log(level, msg)
        wait(lambda: len(endpoint.seen) >= count, what=f"{count} error notifications")
        # a marker sent last: anything the level should have kept out would be before it
        logger.critical("end")
        wait(lambda: endpoint.seen and endpoint.seen[-1][2] == {"error": "end"},
             what="the end marker")
    return [payload["error"] for _, _, payload in endpoint.seen[:-1]]


def test_both_handlers_follow_cfg_conf_and_send_the_same_notification(
        oslo, oslo_conf, url, notification_transport, running, wait, topic, tmp_path,
        monkeypatch):
    from oslo_config import cfg

    path = tmp_path / "service.conf"
    path.write_text(f"[oslo_messaging_notifications]\ndriver = messagingv2\n"
                    f"topics = {topic}\ntransport_url = {url}\n")
    oslo_conf(["--config-file", str(path)])
    monkeypatch.setattr(cfg, "CONF", oslo_conf)  # the service's global configuration
    endpoint = _Endpoint()
    running(get_notification_listener(notification_transport, [messaging.Target(topic=topic)],
                                      [endpoint], executor="threading"))
    handlers = [oslo.PublishErrorsHandler(logging.ERROR),
                messaging.PublishErrorsHandler(logging.ERROR)]
    logger = logging.getLogger(f"svc.{uuid.uuid4().hex[:8]}")
    try:
        for handler in handlers:
            logger.addHandler(handler)
        logger.error("disk %s failed", "sda")
        wait(lambda: len(endpoint.seen) == 2, what="one error notification from each")
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        handlers[0]._transport.cleanup()
    assert endpoint.seen == [("error.publisher", "error_notification",
                              {"error": "disk %s failed"})] * 2


@pytest.mark.parametrize("level", [logging.WARNING, logging.DEBUG])
def test_the_level_alone_picks_the_records_as_oslos(
        oslo, oslo_conf, url, notification_transport, running, wait, topic, tmp_path,
        monkeypatch, level):
    """Each library's handler at the same level publishes the same records, the same way."""
    _service(tmp_path, oslo_conf, monkeypatch, topic, url)
    records = [(logging.DEBUG, "d"), (logging.INFO, "i"), (logging.WARNING, "w %s"),
               (logging.ERROR, {"disk": "sda"}), (logging.ERROR, ValueError("bad disk")),
               (logging.CRITICAL, 42)]
    expected = sum(1 for lvl, _ in records if lvl >= level)
    endpoint = _Endpoint()
    running(get_notification_listener(notification_transport, [messaging.Target(topic=topic)],
                                      [endpoint], executor="threading"))
    got = []
    for make in (oslo.PublishErrorsHandler, messaging.PublishErrorsHandler):
        endpoint.seen.clear()
        handler = make(level)
        try:
            got.append(_published(handler, endpoint, wait, records, expected))
        finally:
            handler.close()
            if make is oslo.PublishErrorsHandler:
                handler._transport.cleanup()  # oslo's close() leaves it open
        assert {(p, e) for p, e, _ in endpoint.seen} == {("error.publisher",
                                                         "error_notification")}
    assert got[0] == got[1]
    assert got[1] == [repr(msg) if isinstance(msg, Exception) else msg
                      for lvl, msg in records if lvl >= level]
