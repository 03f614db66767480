"""A Redis matchmaker that goes away: every verb ends in bounded time, servers re-register.

Uses a private ``redis-server`` on a free loopback port (started and
stopped by the test, no persistence), never the shared one.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from rabbitmq_local import free_port

import messaging
from messaging.testing.helpers import running_server, wait_for
from messaging.testing.plugin import skip_or_fail

WAIT = 20.0
BOUND = 10.0  # seconds beyond a verb's own bound


class PrivateRedis:
    """A throw-away redis-server on 127.0.0.1:<port>, in a temporary directory."""

    def __init__(self, directory: str) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(answers, WAIT, interval=0.05, message="the private redis-server")
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed")
    server = PrivateRedis(str(tmp_path))
    try:
        yield server
    finally:
        server.stop()


def _url(server: PrivateRedis, **extra: object) -> str:
    options = {"zmq_matchmaker_timeout": 0.5, "zmq_send_timeout": 2,
               "zmq_target_expire": 3, "zmq_target_update": 1, **extra}
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"zmq+redis://127.0.0.1:{server.port}/outage?{query}"


class Echo:
    def echo(self, ctxt, value):
        return value


def _server(transports, private_redis, topic):
    transport = transports(_url(private_redis))
    return messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                    [Echo()])


def _fresh_client_calls(transports, private_redis, topic, value):
    """A client that never looked anything up reaches the server through Redis."""
    client = messaging.get_rpc_client(transports(_url(private_redis)),
                                      messaging.Target(topic=topic), timeout=WAIT)
    assert client.call({}, "echo", value=value) == value


def test_verbs_end_in_bounded_time_while_redis_is_down(private_redis, transports, topic):
    transport = transports(_url(private_redis))  # never started: nothing answers
    target = messaging.Target(topic=topic)
    began = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout, match="matchmaker is unreachable"):
        transport.call(target, {}, {"method": "echo", "args": {}}, timeout=1.5)
    assert time.monotonic() - began < 1.5 + BOUND
    for retry in (None, 0):
        began = time.monotonic()
        with pytest.raises(messaging.MessageDeliveryFailure, match="cannot look it up"):
            transport.cast(target, {}, {"method": "echo", "args": {}}, retry=retry)
        assert time.monotonic() - began < 2 + BOUND
    with pytest.raises(messaging.MessageDeliveryFailure, match="cannot look it up"):
        transport.notify(messaging.Target(topic=f"{topic}.info"), {},
                         {"priority": "INFO", "event_type": "e", "payload": {}})


def test_server_started_while_redis_is_down_registers_when_it_is_back(private_redis,
                                                                      transports, topic):
    server = _server(transports, private_redis, topic)
    began = time.monotonic()
    with running_server(server):
        assert time.monotonic() - began < BOUND, "start() blocked while Redis was down"
        assert server.running and not server.consuming
        assert "Redis" in (server.last_error or "")
        private_redis.start()
        wait_for(lambda: server.consuming, WAIT, message="the server to register")
        _fresh_client_calls(transports, private_redis, topic, "back")


def test_server_registers_again_after_redis_lost_its_data(private_redis, transports, topic):
    private_redis.start()
    server = _server(transports, private_redis, topic)
    with running_server(server):
        assert server.consuming
        private_redis.stop()  # no persistence: its entries are gone with it
        wait_for(lambda: not server.consuming, WAIT, message="the outage to be noticed")
        private_redis.start()
        wait_for(lambda: server.consuming, WAIT, message="the server to register again")
        _fresh_client_calls(transports, private_redis, topic, "again")


def test_known_servers_keep_serving_while_redis_is_down(private_redis, transports, topic):
    private_redis.start()
    server = _server(transports, private_redis, topic)
    with running_server(server):
        # No lookup cache: every call looks the server up again, and meets the dead Redis.
        client_transport = transports(_url(private_redis, zmq_lookup_cache=0))
        client = messaging.get_rpc_client(client_transport, messaging.Target(topic=topic),
                                          timeout=WAIT)
        assert client.call({}, "echo", value=1) == 1
        assert client_transport.driver.directory.last_error is None
        private_redis.stop()
        assert [client.call({}, "echo", value=i) for i in range(5)] == list(range(5))
        assert "Redis" in (client_transport.driver.directory.last_error or ""), \
            "the calls did not even try the matchmaker"
