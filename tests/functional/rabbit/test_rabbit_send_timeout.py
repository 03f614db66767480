"""``send_timeout`` (URL query or configuration) bounds every cast and notification.

``retry=None`` means "retry until the send timeout", not forever; the error
names why the send could not be made. Only ``messaging.exceptions`` cross
the driver interface on any of these paths.
"""

from __future__ import annotations

import time

import pytest

from messaging.exceptions import (
    InvalidTransportURL,
    MessageDeliveryFailure,
    MessagingTimeout,
)
from messaging.target import Target

pytestmark = pytest.mark.rabbit


@pytest.fixture
def dead_url(rmq, scheme):
    return f"{scheme}://guest:guest@127.0.0.1:{rmq.free_port()}/"


@pytest.mark.parametrize("send", ["cast", "notify"])
def test_a_send_to_an_unreachable_broker_ends_at_the_send_timeout(make_driver, dead_url,
                                                                  topic, send):
    driver = make_driver("send_timeout=1.5&rabbit_retry_interval=0.2", url_=dead_url)
    target = Target(topic=topic) if send == "cast" else Target(topic=f"{topic}.info")
    message = {"method": "m", "args": {}} if send == "cast" else {"priority": "INFO"}
    start = time.monotonic()
    with pytest.raises(MessageDeliveryFailure,
                       match=r"within the send timeout \(1.5 s\): broker unreachable: .*refused"):
        getattr(driver, send)(target, {}, message, retry=None)
    assert 1.4 < time.monotonic() - start < 3.0


def test_bad_send_bounds_and_compression_are_refused(make_driver):
    for query in ("send_timeout=0", "send_timeout=-1", "connect_timeout=0",
                  "kombu_compression=bz2"):
        with pytest.raises(InvalidTransportURL):
            make_driver(query)


def test_only_messaging_exceptions_cross_the_interface(make_driver, dead_url, topic):
    driver = make_driver("send_timeout=1&connect_timeout=1&rabbit_retry_interval=0.2",
                         url_=dead_url)
    target, note = Target(topic=topic), Target(topic=f"{topic}.info")
    message = {"method": "m", "args": {}}
    # Each verb with the one error the interface documents for it: a call bounded by its
    # timeout alone ends with MessagingTimeout, every send out of retries or send time
    # with MessageDeliveryFailure.
    verbs = [
        (lambda: driver.call(target, {}, message, timeout=1), MessagingTimeout),
        (lambda: driver.call(target, {}, message, timeout=5, retry=0), MessageDeliveryFailure),
        (lambda: driver.cast(target, {}, message), MessageDeliveryFailure),
        (lambda: driver.notify(note, {}, {"priority": "INFO"}, retry=1), MessageDeliveryFailure),
        (lambda: driver.submit_call(target, {}, message, timeout=1).result(10), MessagingTimeout),
        (lambda: driver.submit_cast(target, {}, message).result(10), MessageDeliveryFailure),
        (lambda: driver.submit_notify(note, {}, {"priority": "INFO"}).result(10),
         MessageDeliveryFailure),
    ]
    for verb, expected in verbs:
        with pytest.raises(expected):
            verb()
    listener = driver.listen(Target(topic=topic, server="s1"))
    notifications = driver.listen_for_notifications([(Target(topic=topic), "info")])
    assert listener.poll(timeout=0.1) == [] and notifications.poll(timeout=0.1) == []
    assert not listener.consuming and "unreachable" in listener.last_error
    listener.cleanup()
    driver.cleanup()
    assert notifications.poll(timeout=0.1) == []
    notifications.cleanup()
    for verb, _ in verbs:  # after cleanup: nothing is sent, and each says so
        with pytest.raises(MessageDeliveryFailure):
            verb()
