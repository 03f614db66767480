"""pika's records about our connection attempts become debug records; nothing else changes.

The driver reports failed attempts itself (once per 30 s per cause), so
pika's own error records about them are turned into debug records, but only
those pika emits on the driver's I/O threads about connecting, closing or a
lost socket. Importing the driver changes no logger; building one attaches
the filter once. The same holds for the short probe connection a call about
to time out opens to count consumers. Another pika user in the same process
keeps pika's records at their level. No broker needed: the attempts go to a closed port.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from typing import Any

import pytest
from rabbitmq_local import free_port

from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.target import Target
from messaging.url import TransportURL

pytestmark = [pytest.mark.rabbit, pytest.mark.amqp091_driver("pika")]

_PIKA_LOGGERS = ("pika.adapters.utils.connection_workflow",
                 "pika.adapters.utils.io_services_utils",
                 "pika.adapters.base_connection", "pika.connection")


def _dead_url(**query: str) -> TransportURL:
    params = {"send_timeout": "1.5", "connect_timeout": "1", "rabbit_retry_interval": "0.2",
              **query}
    text = "&".join(f"{k}={v}" for k, v in params.items())
    return TransportURL.parse(f"pika://guest:guest@127.0.0.1:{free_port()}/?{text}")


def test_importing_the_driver_changes_no_logger_and_building_one_filters_once(amqp_driver):
    script = f"""
import logging
names = {_PIKA_LOGGERS!r}
import messaging_pika.connection, messaging_pika.driver
assert not any(logging.getLogger(n).filters for n in names), "filters at import"
from messaging.url import TransportURL
for _ in range(3):
    messaging_pika.driver.PikaDriver(None, TransportURL.parse("pika://h/")).cleanup()
print([len(logging.getLogger(n).filters) for n in names])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[1, 1, 1, 1]"


def test_failed_attempts_are_reported_once_by_the_driver_and_pikas_records_are_debug(
        amqp_driver, driver_cls, caplog):
    caplog.set_level(logging.DEBUG, logger="pika")
    driver = driver_cls(None, _dead_url())
    try:
        with pytest.raises(MessageDeliveryFailure, match="refused"):
            driver.cast(Target(topic="t"), {}, {"method": "m", "args": {}})
        # a call about to time out also probes for consumers, on a connection of its own
        with pytest.raises(MessagingTimeout, match="refused"):
            driver.call(Target(topic="t"), {}, {"method": "m", "args": {}}, timeout=1.5)
    finally:
        driver.cleanup()
    pika_records = [r for r in caplog.records if r.name.startswith("pika")]
    assert any("Connection attempt failed" in r.getMessage() for r in pika_records)
    assert {r.levelname for r in pika_records} == {"DEBUG"}
    ours = [r for r in caplog.records if r.name.startswith("messaging_amqp091")
            and r.levelno >= logging.WARNING and "failed" in r.getMessage()]
    assert ours and "refused" in ours[0].getMessage()


def test_another_pika_user_in_the_process_keeps_pikas_error_records(amqp_driver, driver_cls,
                                                                     caplog):
    import pika
    import pika.exceptions

    driver_cls(None, _dead_url()).cleanup()  # the filter is installed
    caplog.set_level(logging.DEBUG, logger="pika")
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", free_port(), connection_attempts=1, socket_timeout=1))
    errors = [r.getMessage() for r in caplog.records
              if r.name == "pika.adapters.utils.connection_workflow"
              and r.levelno >= logging.ERROR]
    assert any("Connection attempt failed" in text for text in errors), errors


def _log_on_io_thread(driver: Any, logger: str, message: str) -> None:
    done = threading.Event()

    def log() -> None:
        logging.getLogger(logger).warning(message, "x")
        done.set()

    driver._client_connection().call_later(0, log)
    assert done.wait(10), "the I/O thread did not run the timer"


def test_on_our_io_threads_only_attempt_and_socket_records_are_turned_to_debug(
        amqp_driver, driver_cls, caplog):
    caplog.set_level(logging.DEBUG, logger="pika")
    driver = driver_cls(None, _dead_url())
    try:
        _log_on_io_thread(driver, "pika.adapters.utils.io_services_utils", "Socket EOF; %s")
        _log_on_io_thread(driver, "pika.connection",
                          "Received heartbeat frame without a heartbeat checker %s")
        _log_on_io_thread(driver, "pika.channel", "Socket EOF; %s")
    finally:
        driver.cleanup()
    levels = {(r.name, r.getMessage()): r.levelname for r in caplog.records
              if r.getMessage().endswith(" x")}
    assert levels == {
        ("pika.adapters.utils.io_services_utils", "Socket EOF; x"): "DEBUG",
        ("pika.connection", "Received heartbeat frame without a heartbeat checker x"):
            "WARNING",
        ("pika.channel", "Socket EOF; x"): "WARNING",
    }
