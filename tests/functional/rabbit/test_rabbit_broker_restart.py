"""A broker restart (a private node: the system node is never touched).

While it is down, calls end on time and sends without retry fail; sends that
may retry wait and go through once it is back; the server re-declares its
queues (a restart loses non-durable ones) and serves again.
"""

from __future__ import annotations

import threading
import time

import pytest

from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.target import Target

pytestmark = pytest.mark.rabbit

QUICK = "kombu_reconnect_delay=0.2&rabbit_retry_interval=0.2&rabbit_retry_backoff=0.2" \
        "&rabbit_interval_max=1"


def test_everything_recovers_after_a_broker_restart(make_driver, serve, vhost, topic,
                                                    private_node, scheme):
    url = f"{scheme}://{private_node.url_host}/{vhost}"
    # Durable queues survive the restart, so a cast sent while the broker is
    # down lands in the server's queue even before the server is back.
    driver = make_driver(f"{QUICK}&amqp_durable_queues=1", url_=url)
    exchange = f"ex_{topic}"
    target = Target(topic=topic, exchange=exchange)
    listener = driver.listen(Target(topic=topic, server="s1", exchange=exchange))
    server = serve(listener, lambda m: "back")
    assert driver.call(target, {}, {"method": "m", "args": {}}, timeout=20).result == "back"

    private_node.stop()
    start = time.monotonic()
    with pytest.raises(MessagingTimeout):
        driver.call(target, {}, {"method": "m", "args": {}}, timeout=1.5)
    assert time.monotonic() - start < 3.5
    with pytest.raises(MessageDeliveryFailure):
        driver.cast(target, {}, {"method": "lost", "args": {}}, retry=0)

    patient = threading.Thread(target=driver.cast, args=(
        target, {}, {"method": "patient", "args": {}}))
    patient.start()  # retry=None: waits for the broker
    private_node.start()
    patient.join(60)
    assert not patient.is_alive()

    assert driver.call(target, {}, {"method": "m", "args": {}}, timeout=20).result == "back"
    methods = [m.message["method"] for m in server.wait_count(3, timeout=20)]
    assert "patient" in methods and "lost" not in methods
    assert listener.connection.connects == 2
