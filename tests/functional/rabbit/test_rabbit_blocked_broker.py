"""A broker that blocks publishers (a memory alarm) cannot make a send hang.

``send_timeout`` bounds how long a cast or notification waits for the
broker to take and confirm it; past it the send raises
``MessageDeliveryFailure`` naming the reason the broker gave. Calls stay
bounded by their own timeout. Once the alarm clears, sends go through again.
The alarm is raised on a private node (``set_vm_memory_high_watermark 0``).
"""

from __future__ import annotations

import time

import pytest

from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.target import Target
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit

SEND_TIMEOUT = 2.0


def test_sends_to_a_blocked_broker_fail_within_the_send_timeout(make_driver, serve, vhost,
                                                                topic, private_node, scheme):
    url = f"{scheme}://{private_node.url_host}/{vhost}"
    driver = make_driver(f"send_timeout={SEND_TIMEOUT}", url_=url)
    server = serve(driver.listen(Target(topic=topic, server="s1")))
    driver.cast(Target(topic=topic), {}, {"method": "before", "args": {}})
    server.wait_count(1)

    private_node.ctl("set_vm_memory_high_watermark", "0")
    try:
        for send in ("cast", "notify", "cast"):
            start = time.monotonic()
            with pytest.raises(MessageDeliveryFailure,
                               match=r"blocked by the broker: .*memory"):
                if send == "cast":
                    driver.cast(Target(topic=topic), {}, {"method": "blocked", "args": {}},
                                retry=None)
                else:
                    driver.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO"})
            took = time.monotonic() - start
            assert took < SEND_TIMEOUT + 1.0, f"{send} took {took:.1f} s"
        client = driver._client
        assert client.blocked is not None and "memory" in client.blocked.reason
        start = time.monotonic()
        with pytest.raises(MessagingTimeout):
            driver.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=1.5)
        assert time.monotonic() - start < 3.0
    finally:
        private_node.ctl("set_vm_memory_high_watermark", "0.4")

    wait_for(lambda: driver._client.blocked is None, 30,
             message="the broker to unblock the connection")
    driver.cast(Target(topic=topic), {}, {"method": "after", "args": {}})
    # (The first "blocked" cast was on the wire when the broker blocked: it may
    # still arrive now; the caller was told it could not be confirmed in time.)
    wait_for(lambda: "after" in [m.message["method"] for m in server.received], 10,
             message="the cast sent after the alarm cleared")
    # The reply queue, first needed by the call made while blocked, works now.
    assert driver.call(Target(topic=topic), {}, {"method": "m", "args": {}},
                       timeout=10).result == {}
