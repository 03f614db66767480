"""A server answers soon after its broker comes back, whatever the outage lasted.

While nothing listens on the broker's port, connection attempts cost one
refused TCP connect and are repeated every ``rabbit_retry_interval``
(no growing backoff), so the node is found within one interval of accepting
connections; the AMQP handshake, re-declaring and re-consuming follow. The
measured time from the node accepting TCP connections to the first answered
call is printed and recorded (``recovery_seconds``).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

import messaging
from messaging.target import Target
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit

#: The outage lasts until both connections failed this many attempts: long enough for a
#: growing backoff to have grown (it would wait 9 s before the next one).
ATTEMPTS = 5
RETRY_INTERVAL = 1.0  # the option's default
#: TCP accept to answered call: one probe interval for each side, plus handshake and set-up.
BOUND = 2 * RETRY_INTERVAL + 1.0


class Echo:
    def echo(self, ctxt, value):
        return value


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_a_server_answers_within_two_retry_intervals_of_the_broker_coming_back(
        private_node, vhost, topic, record_property, scheme):
    # Durable queues keep the request while the server consumes again.
    url = (f"{scheme}://{private_node.url_host}/{vhost}?amqp_durable_queues=true"
           f"&rabbit_retry_interval={RETRY_INTERVAL}")
    transport = messaging.get_rpc_transport(None, url)
    exchange = f"ex_{topic}"
    server = messaging.get_rpc_server(
        transport, Target(topic=topic, server="s1", exchange=exchange), [Echo()])
    client = messaging.get_rpc_client(transport, Target(topic=topic, exchange=exchange))
    server.start()
    try:
        wait_for(lambda: server.consuming, 20, message="the server to consume")
        assert client.prepare(timeout=20).call({}, "echo", value=1) == 1

        conns = [server._listener.connection, transport.driver._client]
        private_node.stop()
        wait_for(lambda: not server.consuming, 10, message="the server to notice")
        wait_for(lambda: all(c.failed_attempts >= ATTEMPTS for c in conns), 60,
                 message=f"{ATTEMPTS} failed connection attempts")
        down = time.monotonic()
        starter = threading.Thread(target=private_node.start)
        starter.start()
        wait_for(lambda: _accepts(private_node.port), 90, interval=0.005,
                 message="the node to accept connections")
        accepted = time.monotonic()
        assert client.prepare(timeout=20).call({}, "echo", value=2) == 2
        recovery = time.monotonic() - accepted
        starter.join(90)
        record_property("recovery_seconds", round(recovery, 3))
        print(f"\nfirst call answered {recovery:.2f} s after the node accepted connections "
              f"(it booted in {accepted - down:.1f} s; rabbit_retry_interval "
              f"{RETRY_INTERVAL:g} s)")
        assert recovery < BOUND, f"took {recovery:.2f} s (bound {BOUND:g} s)"
    finally:
        private_node.start()
        server.stop()
        server.wait()
        transport.cleanup()
