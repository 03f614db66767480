"""Kit: start/stop/wait are idempotent, thread-safe and restartable."""

from __future__ import annotations

import threading
import time

import pytest

import messaging
from messaging.testing.helpers import running_server


class Echo:
    def echo(self, ctxt, value):
        return value


def _server(api, transport, topic, executor="threading"):
    return api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"), [Echo()],
                              executor=executor)


def test_wait_before_start_returns(api, transport, topic):
    server = _server(api, transport, topic)
    began = time.monotonic()
    server.wait(timeout=5)
    assert time.monotonic() - began < 5
    server.stop()
    assert not server.running and not server.consuming


def test_double_start_and_double_stop_are_harmless(api, transport, topic):
    server = _server(api, transport, topic)
    server.start()
    server.start()
    client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    assert client.call({}, "echo", value=1) == 1
    server.stop()
    server.stop()
    server.wait()
    server.wait()


def test_stop_from_another_thread_releases_wait(api, transport, topic):
    server = _server(api, transport, topic, executor="blocking")
    server.start()
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    server.wait(timeout=15)
    stopper.join(5)
    assert not server.running


def test_server_restarts_after_stop(api, transport, topic):
    server = _server(api, transport, topic)
    client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    for i in range(2):
        server.start()
        assert client.call({}, "echo", value=i) == i
        server.stop()
        server.wait()


def test_listen_needs_topic_and_server(api, transport):
    server = api.get_rpc_server(transport, messaging.Target(topic="only-topic"), [Echo()])
    with pytest.raises(messaging.InvalidTarget):
        server.start()
    assert not server.running


def test_server_reports_consuming_while_running(api, transport, topic):
    server = _server(api, transport, topic)
    assert not server.consuming
    server.start()
    try:
        assert server.consuming
        assert server.last_error is None
    finally:
        server.stop()
        server.wait()
    assert not server.consuming


def test_rpc_server_built_from_a_dispatcher_listens_on_its_target(api, transport, topic):
    """oslo's documented form: ``RPCServer(transport, target, RPCDispatcher(endpoints))``."""
    server = messaging.RPCServer(transport, messaging.Target(topic=topic, server="s1"),
                                 messaging.RPCDispatcher([Echo()]))
    with running_server(server):
        client = api.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        assert client.call({}, "echo", value="dispatcher") == "dispatcher"


def test_unknown_executor_is_refused(api, transport, topic):
    with pytest.raises(messaging.ExecutorLoadFailure):
        _server(api, transport, topic, executor="no-such-executor")
