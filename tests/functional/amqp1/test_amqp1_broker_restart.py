"""A broker restart (a node of this module's own: stopped and started again).

While it is down, calls end on time and sends without retry fail; sends that
may retry wait and go through once it is back; servers attach their links
again (the restart lost the non-durable queues, so the attach re-declares
them) and serve again.
"""

from __future__ import annotations

import threading
import time

import pytest
from amqp1_broker import url_of

import messaging
from messaging.testing.helpers import Recorder, running_server, wait_for

QUICK = "connection_retry_interval=0.2&connection_retry_backoff=0.2" \
        "&connection_retry_interval_max=1&link_retry_delay=0.2"


class Work:
    def __init__(self) -> None:
        self.seen = Recorder()

    def echo(self, ctxt, value):
        self.seen.add(value)
        return value


def test_everything_recovers_after_a_broker_restart(own, make_transport, topic):
    transport = make_transport(url_=url_of(own, QUICK))
    target = messaging.Target(topic=topic)
    endpoint = Work()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [endpoint])
    with running_server(server):
        client = messaging.get_rpc_client(transport, target, timeout=20)
        assert client.call({}, "echo", value="before") == "before"

        own.stop()
        wait_for(lambda: not server.consuming, 10, message="the server to notice")
        start = time.monotonic()
        with pytest.raises(messaging.MessagingTimeout):
            client.prepare(timeout=1.5).call({}, "echo", value="down")
        assert time.monotonic() - start < 3.5
        with pytest.raises(messaging.MessageDeliveryFailure):
            client.prepare(retry=0).cast({}, "echo", value="lost")

        patient = threading.Thread(target=client.cast, args=({}, "echo"),
                                   kwargs={"value": "patient"})
        patient.start()  # retry=None: waits for the broker (within default_send_timeout)
        own.start()
        patient.join(30)
        assert not patient.is_alive()
        wait_for(lambda: server.consuming, 30, message="the server to consume again")
        assert client.call({}, "echo", value="after") == "after"
        seen = endpoint.seen.items
        assert "lost" not in seen and "down" not in seen
        listener = server._listener
        assert listener is not None and listener.conn.connects == 2


def test_a_server_started_while_the_broker_is_down_serves_once_it_is_up(own, make_transport,
                                                                         topic):
    transport = make_transport(url_=url_of(own, QUICK))
    own.stop()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Work()])
    start = time.monotonic()
    with running_server(server):
        assert time.monotonic() - start < 10  # start() returned while the broker was down
        assert not server.consuming
        assert server.last_error
        own.start()
        wait_for(lambda: server.consuming, 30, message="the server to connect")
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=20)
        assert client.call({}, "echo", value="late") == "late"
