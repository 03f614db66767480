"""The kit's subprocess-servers mode, on zmq: listeners really live in child processes.

(``tox -e func-zmq`` runs the whole kit in this mode; these tests check the
mode itself: where the listener is, what crosses the pipe, what is left.)
"""

from __future__ import annotations

import logging
import os
import signal

import pytest
from messaging_zmq.frames import rpc_key

import messaging
from messaging.testing.child_servers import HostedListener, listeners_in_children
from messaging.testing.helpers import running_server, wait_for

WAIT = 20.0


class Echo:
    def echo(self, ctxt, value):
        return value

    def pid(self, ctxt):
        return os.getpid()


def _server(transport, topic):
    return messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                    [Echo()])


def _started(transport, topic):
    """A started server on ``topic`` and the child process its listener lives in."""
    server = _server(transport, topic)
    server.start()
    assert isinstance(server._listener, HostedListener)
    return server, server._listener._host


@pytest.fixture
def hosted(url):
    """A transport on ``url`` whose listeners live in a child, cleaned up afterwards."""
    with listeners_in_children(url):
        transport = messaging.get_rpc_transport(None, url)
        try:
            yield transport
        finally:
            transport.cleanup()


def test_the_listener_lives_in_a_child_and_the_endpoint_here(hosted, topic):
    server, host = _started(hosted, topic)
    try:
        assert host.pid != os.getpid() and host.alive
        client = messaging.get_rpc_client(hosted, messaging.Target(topic=topic), timeout=WAIT)
        assert client.call({}, "pid") == os.getpid()  # endpoints run in the test process
        os.kill(host.pid, signal.SIGKILL)  # the server's sockets die with the child
        wait_for(lambda: not server.consuming, WAIT, message="the child to be gone")
        assert "exited" in (server.last_error or "")
        with pytest.raises(messaging.MessagingTimeout):
            client.prepare(timeout=1).call({}, "echo", value=1)
    finally:
        server.stop()
        server.wait()


def test_cleaning_up_the_transport_ends_its_child_and_its_entries(url, topic):
    with listeners_in_children(url):
        transport = messaging.get_rpc_transport(None, url)
        server, host = _started(transport, topic)
        matchmaker = transport.driver.matchmaker
        key = rpc_key(messaging.Target(topic=topic), "openstack")
        assert len(matchmaker.lookup(key)) == 1  # registered by the child
        server.stop()
        transport.cleanup()
        assert host.proc.returncode == 0
        assert matchmaker.lookup(key) == []


def test_children_of_transports_never_cleaned_up_end_with_the_mode(url, topic):
    with listeners_in_children(url):
        transport = messaging.get_rpc_transport(None, url)
        server, host = _started(transport, topic)
    assert host.proc.returncode == 0
    server.stop()
    transport.cleanup()


def test_a_listen_the_child_refuses_raises_here(topic, url):
    """An address this host does not have: the child cannot bind, the server says why."""
    bad = f"{url}?rpc_zmq_bind_address=192.0.2.1"
    with listeners_in_children(bad):
        transport = messaging.get_rpc_transport(None, bad)
        try:
            with pytest.raises(messaging.ServerListenError, match="Cannot bind"):
                _server(transport, topic).start()
        finally:
            transport.cleanup()


def test_the_childs_warnings_reach_this_processs_log(hosted, topic, caplog):
    caplog.set_level(logging.WARNING, logger="messaging_zmq")
    with running_server(_server(hosted, topic)):
        hosted.driver.testing.publish_raw(messaging.Target(topic=topic), b"junk")

        def relayed():
            return [r for r in caplog.records if r.name == "messaging_zmq.listener"
                    and "malformed" in r.getMessage() and "[listener host " in r.getMessage()]
        wait_for(relayed, WAIT, message="the child's warning")


def test_a_bus_in_one_process_memory_is_refused():
    with pytest.raises(ValueError, match="memory of one process"):
        listeners_in_children("fake://")
