"""``rabbit_stream_fanout`` across a broker restart (a private node; the system node is untouched).

Right after a restart RabbitMQ answers a consume on the stream with 404
"home node ... is down or inaccessible" until the stream's member is up
again. That is a pause, not a refusal: the server must keep trying and
serve fanout casts once the stream is back.
"""

from __future__ import annotations

import pytest

from messaging.target import Target

pytestmark = pytest.mark.rabbit

STREAM = ("rabbit_stream_fanout=true&rabbit_qos_prefetch_count=10"
          "&rabbit_transient_quorum_queue=true")
QUICK = "kombu_reconnect_delay=0.2&rabbit_retry_interval=0.2&rabbit_retry_backoff=0.2" \
        "&rabbit_interval_max=1"


def test_a_stream_fanout_server_serves_again_after_a_broker_restart(
        make_driver, serve, vhost, topic, private_node, scheme):
    url = f"{scheme}://{private_node.url_host}/{vhost}"
    driver = make_driver(f"{STREAM}&{QUICK}", url_=url)
    listener = driver.listen(Target(topic=topic, server="s1"))
    server = serve(listener, lambda m: None)
    fanout = Target(topic=topic, fanout=True)
    driver.cast(fanout, {}, {"method": "m", "args": {"i": 0}})
    server.wait_count(1, timeout=20)

    private_node.stop()
    private_node.start()
    # Fanout casts until one is served (each waits up to a second): one sent
    # before the server consumes again is read from its resumed offset anyway.
    served = False
    for i in range(1, 61):
        driver.cast(fanout, {}, {"method": "m", "args": {"i": i}})
        try:
            server.wait_count(2, timeout=1.0)
        except AssertionError:
            continue
        served = True
        break
    assert served, f"no fanout cast served after the restart: {listener.last_error}"
    assert listener.last_error is None
