"""LoggingNotificationHandler: the same ``logrecord`` notification on the wire as oslo's.

Each library's handler, built as a logging configuration builds it
(``LoggingNotificationHandler(url, publisher_id, driver, topic)``, the
class attribute ``CONF`` the service's configuration), gets the same
records; the raw messages captured on RabbitMQ must agree: properties,
envelope, the inner keys in order, priority, event type and payload, ids
and timestamps aside. One field differs on purpose: for a record with an
exception, oslo sends ``exc_info`` as the ``repr`` of each member of the
``(type, value, traceback)`` tuple (``'<traceback object at 0x...>'``);
ours sends the formatted traceback (the migration page says so).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest

import messaging

pytestmark = pytest.mark.rabbit


def _decode(msg: Any) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    body = msg.body if isinstance(msg.body, bytes) else msg.body.encode()
    outer = json.loads(body)
    inner = json.loads(outer["oslo.message"])
    props = {k: v for k, v in msg.properties.items() if k != "expiration"}
    props["application_headers"] = props.get("application_headers") or {}
    return props, list(outer), inner


def _log_the_records(handler: logging.Handler, name: str) -> None:
    """The same records, from the same lines, through a logger with only ``handler``."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.info("volume %s attached", "v1")
        logger.warning("quota at %d%%", 90, extra={"extra": {"project": "p1"}})
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            logger.exception("failed")
        logger.log(25, "a custom level: no notifier method, not sent")
    finally:
        logger.removeHandler(handler)


def test_both_handlers_put_the_same_logrecord_notifications_on_the_wire(
        oslo, oslo_conf, url, ours, capture, topic):
    grabs = {prio: capture(f"{topic}.{prio}") for prio in ("info", "warn", "error")}

    class Theirs(oslo.LoggingNotificationHandler):
        CONF = oslo_conf

    class Ours(messaging.LoggingNotificationHandler):
        CONF = oslo_conf

    name = f"svc.{uuid.uuid4().hex[:8]}"
    got: list[dict[str, Any]] = []
    for cls, scheme in ((Theirs, "rabbit"), (Ours, ours)):
        handler = cls(url.replace("rabbit://", f"{scheme}://", 1), publisher_id="svc.host1",
                      driver="messagingv2", topic=topic)
        try:
            _log_the_records(handler, name)
            got.append({prio: _decode(grab()) for prio, grab in grabs.items()})
        finally:
            handler.close()
            handler.notifier.transport.cleanup()  # oslo's close() leaves it open
    theirs, mine = got
    for prio in grabs:
        (t_props, t_outer, t_inner), (m_props, m_outer, m_inner) = theirs[prio], mine[prio]
        assert m_props == t_props and m_outer == t_outer == ["oslo.version", "oslo.message"]
        assert list(m_inner) == list(t_inner)
        for key in ("publisher_id", "event_type", "priority"):
            assert m_inner[key] == t_inner[key]
        t_payload, m_payload = t_inner["payload"], m_inner["payload"]
        assert list(m_payload) == list(t_payload)
        if prio == "error":
            t_exc, m_exc = t_payload.pop("exc_info"), m_payload.pop("exc_info")
            assert t_exc[:2] == ["<class 'ZeroDivisionError'>",
                                 "ZeroDivisionError('division by zero')"]
            assert m_exc.startswith("Traceback (most recent call last):")
            assert m_exc.endswith("ZeroDivisionError: division by zero")
        assert m_payload == t_payload
    assert [theirs[p][2]["payload"]["msg"] for p in grabs] == [
        "volume v1 attached", "quota at 90%", "failed"]
    assert theirs["warn"][2]["payload"]["extra"] == {"project": "p1"}
