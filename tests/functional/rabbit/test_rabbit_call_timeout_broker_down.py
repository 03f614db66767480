"""With the broker down, calls end on time and sends fail within their retry budget.

oslo.messaging hangs here (reply queue setup retries forever); this driver
counts everything against the call's timeout and the send's ``retry``.
"""

from __future__ import annotations

import time

import pytest

from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout, ServerListenError
from messaging.target import Target

pytestmark = pytest.mark.rabbit

FAST_RETRY = "rabbit_retry_interval=0.2&rabbit_retry_backoff=0.1&kombu_reconnect_delay=0.1"


@pytest.fixture
def dead_url(rmq, scheme):
    """A URL whose only host has nothing listening."""
    return f"{scheme}://guest:guest@127.0.0.1:{rmq.free_port()}/"


def test_a_call_to_a_dead_broker_times_out_on_time(make_driver, dead_url, topic):
    driver = make_driver(url_=dead_url)
    for timeout in (2.0, 1.0):  # the second one finds the connection backing off
        start = time.monotonic()
        with pytest.raises(MessagingTimeout, match="unreachable"):
            driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=timeout)
        assert timeout - 0.1 <= time.monotonic() - start < timeout + 1.5


def test_a_call_with_no_retry_fails_fast_when_the_broker_is_down(make_driver, dead_url, topic):
    driver = make_driver(url_=dead_url)
    start = time.monotonic()
    with pytest.raises(MessageDeliveryFailure, match=r"Connection refused|ECONNREFUSED|111"):
        driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=30, retry=0)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("send", ["cast", "notify"])
def test_sends_fail_once_their_retry_budget_is_spent(make_driver, dead_url, topic, send):
    driver = make_driver(FAST_RETRY, url_=dead_url)
    target = Target(topic=topic) if send == "cast" else Target(topic=f"{topic}.info")
    message = {"method": "m", "args": {}} if send == "cast" else {"priority": "INFO"}
    for retry, attempts in ((0, 1), (2, 3)):
        start = time.monotonic()
        with pytest.raises(MessageDeliveryFailure, match=f"after {attempts} failed attempt"):
            getattr(driver, send)(target, {}, message, retry=retry)
        assert time.monotonic() - start < 5


def test_an_unknown_vhost_fails_sends_and_listens_at_once(make_driver, topic, scheme):
    driver = make_driver(url_=f"{scheme}://guest:guest@127.0.0.1:5672/no_such_vhost_here")
    start = time.monotonic()
    with pytest.raises(MessageDeliveryFailure, match=r"NotAllowed|vhost"):
        driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=30)
    with pytest.raises(MessageDeliveryFailure, match=r"NotAllowed|vhost"):
        driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}})
    with pytest.raises(ServerListenError, match=r"NotAllowed|vhost"):
        driver.listen(Target(topic=topic, server="s1"))
    assert time.monotonic() - start < 10


def test_bad_credentials_fail_at_once(make_driver, vhost, topic, scheme):
    driver = make_driver(url_=f"{scheme}://guest:wrong@127.0.0.1:5672/{vhost}")
    with pytest.raises(MessageDeliveryFailure, match=r"ACCESS_REFUSED|AccessRefused"):
        driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}})
