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

import messaging
from messaging.notify import get_notification_listener

pytestmark = pytest.mark.rabbit


class _Endpoint:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, object]] = []

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self.seen.append((publisher_id, event_type, payload))


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
