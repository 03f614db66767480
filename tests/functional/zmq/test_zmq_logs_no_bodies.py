"""What the zmq driver drops is logged by size and reason at WARNING; the bytes only at DEBUG.

A message may carry anybody's data (a password in a context, a customer's
record), so no log at WARNING or above shows its contents.
"""

from __future__ import annotations

import logging

import pytest
import zmq
from messaging_zmq.frames import CALL, pack, rpc_key

import messaging
from messaging.testing.helpers import running_server, wait_for

WAIT = 20.0
SECRET = "kit-secret-9c1d"


class Echo:
    def echo(self, ctxt, value):
        return value


@pytest.fixture
def served(url, topic, transports):
    """A server on ``topic``, its transport and its registered address."""
    transport = transports(url)
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()], executor="threading")
    with running_server(server):
        [address] = transport.driver.matchmaker.lookup(
            rpc_key(messaging.Target(topic=topic, server="s1"), "openstack"))
        yield transport, address


def _dropped(caplog, needle):
    """The WARNING records about a dropped message, once there is one mentioning ``needle``."""
    def loud():
        return [r.getMessage() for r in caplog.records
                if r.name.startswith("messaging_zmq") and r.levelno >= logging.WARNING]
    wait_for(lambda: any(needle in m for m in loud()), WAIT, message=f"a warning: {needle}")
    return loud()


def _debug(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("messaging_zmq") and r.levelno == logging.DEBUG]


def test_a_malformed_body_is_logged_without_its_bytes(served, topic, caplog):
    transport, _address = served
    caplog.set_level(logging.DEBUG, logger="messaging_zmq")
    body = ('{"context": {"password": "' + SECRET + '"').encode()  # not JSON: cut short
    transport.driver.testing.publish_raw(messaging.Target(topic=topic), body)
    loud = _dropped(caplog, "malformed")
    assert any(f"({len(body)} bytes)" in m for m in loud), loud
    assert not any(SECRET in m for m in loud), loud
    assert any(SECRET in m for m in _debug(caplog)), "the bytes are not even at DEBUG"


@pytest.mark.parametrize("frame", [
    f"no header at all {SECRET}".encode(),
    f"messaging-zmq/1 {SECRET} rpc/openstack/x\n{{}}".encode(),
], ids=["no-header", "unknown-kind"])
def test_a_strangers_frame_is_logged_without_its_bytes(served, caplog, stranger, frame):
    _transport, address = served
    caplog.set_level(logging.DEBUG, logger="messaging_zmq")
    stranger(address).send(frame)
    loud = _dropped(caplog, "not from a messaging zmq client")
    assert any(f"{len(frame)}-byte" in m for m in loud), loud
    assert not any(SECRET in m for m in loud), loud
    assert any(SECRET in m for m in _debug(caplog)), "the bytes are not even at DEBUG"


def test_a_reply_that_is_not_ours_is_logged_without_its_bytes(url, topic, transports, caplog):
    """A "server" answering a call with foreign bytes: the client drops them quietly."""
    transport = transports(f"{url}?zmq_lookup_cache=0")
    key = rpc_key(messaging.Target(topic=topic), "openstack")
    ctx = zmq.Context()
    try:
        fake_server = ctx.socket(zmq.ROUTER)
        port = fake_server.bind_to_random_port("tcp://127.0.0.1")
        transport.driver.matchmaker.register(key, f"tcp://127.0.0.1:{port}", 30)
        caplog.set_level(logging.DEBUG, logger="messaging_zmq")
        future = transport.submit_call(messaging.Target(topic=topic), {},
                                       {"method": "echo", "args": {}}, timeout=WAIT)
        assert fake_server.poll(WAIT * 1000), "the call never reached the fake server"
        identity, request = fake_server.recv_multipart()
        assert request.startswith(pack(CALL, key, b""))
        fake_server.send_multipart([identity, f"not a reply {SECRET}".encode()])
        loud = _dropped(caplog, "not from a messaging zmq server")
        future.cancel()
    finally:
        ctx.destroy(linger=0)
    assert not any(SECRET in m for m in loud), loud
    assert any(SECRET in m for m in _debug(caplog)), "the bytes are not even at DEBUG"
