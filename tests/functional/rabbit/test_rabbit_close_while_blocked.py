"""Closing a connection the broker blocks drops it at once instead of leaving it open.

During a resource alarm RabbitMQ reads nothing from a blocked connection,
so the AMQP close handshake cannot finish: the driver closes the socket
without it, and the broker sees the connection go. The alarm is raised on
a private node (``set_vm_memory_high_watermark 0``).
"""

from __future__ import annotations

import json
import logging
import time

import pytest

from messaging.exceptions import MessageDeliveryFailure
from messaging.target import Target
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit


def _connection_names(node) -> set[str]:
    text = node.ctl("list_connections", "client_properties", "--formatter", "json").strip()
    names = set()
    for row in json.loads(text or "[]"):
        for item in row.get("client_properties") or []:
            if isinstance(item, list) and item and item[0] == "connection_name":
                names.add(item[-1])
    return names


def test_a_blocked_connection_is_dropped_when_the_driver_is_cleaned_up(
        make_driver, vhost, topic, private_node, scheme):
    # Short heartbeats: a blocked connection's socket closing shows only when the
    # broker's next heartbeat finds it closed (it pauses reading and heartbeat checks).
    driver = make_driver("send_timeout=1.5&heartbeat_timeout_threshold=4",
                         url_=f"{scheme}://{private_node.url_host}/{vhost}")
    name = _blocked_then_cleaned_up(driver, topic, private_node)
    wait_for(lambda: name not in _connection_names(private_node), 20,
             message="the broker to see the blocked connection closed")


def _blocked_then_cleaned_up(driver, topic: str, node) -> str:
    """Block ``driver``'s client connection (a memory alarm), clean it up; its name."""
    target = Target(topic=topic)
    driver.cast(target, {}, {"method": "before", "args": {}})
    name = driver._client.name
    assert name in _connection_names(node)
    node.ctl("set_vm_memory_high_watermark", "0")
    try:
        with pytest.raises(MessageDeliveryFailure, match="blocked by the broker"):
            driver.cast(target, {}, {"method": "blocked", "args": {}})
        start = time.monotonic()
        driver.cleanup()
        assert time.monotonic() - start < 5.0
    finally:
        node.ctl("set_vm_memory_high_watermark", "0.4")
    return name


@pytest.mark.amqp091_driver("pika")
def test_a_pika_that_cannot_drop_a_connection_still_closes_in_time_and_says_so(
        make_driver, vhost, topic, private_node, scheme, monkeypatch, caplog):
    from pika.adapters.base_connection import BaseConnection
    from pika.connection import Connection

    monkeypatch.delattr(BaseConnection, "_adapter_disconnect_stream")
    monkeypatch.delattr(Connection, "_adapter_disconnect_stream")
    driver = make_driver("send_timeout=1.5", url_=f"{scheme}://{private_node.url_host}/{vhost}")
    _blocked_then_cleaned_up(driver, topic, private_node)
    assert any("cannot drop a connection" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)
