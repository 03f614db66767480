"""Kit: a call returns or raises within its timeout; call monitoring keeps long calls alive."""

from __future__ import annotations

import threading
import time

import pytest

import messaging
from messaging.testing.helpers import running_server


class Slow:
    def __init__(self) -> None:
        self.release = threading.Event()

    def sleep_for(self, ctxt, seconds):
        self.release.wait(seconds)
        return seconds


def test_call_without_server_times_out(api, transport, topic):
    client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=1)
    start = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout) as info:
        client.call({}, "anything")
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 6, elapsed
    assert "anything" in str(info.value)


def test_slow_endpoint_times_out_then_server_serves_again(api, transport, topic):
    endpoint = Slow()
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [endpoint])
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=0.5)
        with pytest.raises(messaging.MessagingTimeout):
            client.call({}, "sleep_for", seconds=5)
        endpoint.release.set()
        assert client.prepare(timeout=10).call({}, "sleep_for", seconds=0) == 0


def test_call_monitor_keeps_long_call_alive(api, transport, topic):
    if not transport.capabilities.call_monitor:
        pytest.skip("driver declares no call monitoring")
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [Slow()])
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=20,
                                    call_monitor_timeout=1)
        assert client.call({}, "sleep_for", seconds=2.5) == 2.5


def test_call_monitor_does_not_extend_overall_timeout(api, transport, topic):
    if not transport.capabilities.call_monitor:
        pytest.skip("driver declares no call monitoring")
    endpoint = Slow()
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [endpoint])
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=2,
                                    call_monitor_timeout=1)
        start = time.monotonic()
        with pytest.raises(messaging.MessagingTimeout):
            client.call({}, "sleep_for", seconds=30)
        assert time.monotonic() - start < 8
        endpoint.release.set()
