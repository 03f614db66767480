"""Bad peers: bytes from strangers are dropped and logged, oversized frames refused.

The server runs in this process (to read its log); the strangers are a raw
TCP socket and raw ZeroMQ sockets pointed at the server's registered port.
"""

from __future__ import annotations

import logging
import os
import socket

import pytest
import zmq
from messaging_zmq.frames import CAST, pack, rpc_key

import messaging
from messaging.envelope import build_request, encode, wrap
from messaging.testing.helpers import Recorder, running_server, wait_for

WAIT = 20.0
LIMIT = 4096


class Echo:
    def __init__(self) -> None:
        self.seen = Recorder()

    def echo(self, ctxt, value):
        self.seen.add(value)
        return value

    def big(self, ctxt, size):
        return "x" * size


@pytest.fixture
def served(url, topic, transports):
    """A server on ``topic`` (size limit 4 KiB) and its endpoint ``(host, port, endpoint)``."""
    transport = transports(f"{url}?zmq_max_message_size={LIMIT}&zmq_heartbeat_interval=0.5")
    endpoint = Echo()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [endpoint], executor="threading")
    with running_server(server):
        [address] = transport.driver.matchmaker.lookup(
            rpc_key(messaging.Target(topic=topic, server="s1"), "openstack"))
        host, port = address[len("tcp://"):].rsplit(":", 1)
        yield endpoint, transport, (host, int(port), address)


def _still_serving(transport, topic):
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=WAIT)
    assert client.call({}, "echo", value="still serving") == "still serving"


def _logged(caplog, *needles):
    def found():
        return [r for r in caplog.records if r.name.startswith("messaging_zmq")
                and r.levelno >= logging.WARNING
                and any(n in r.getMessage() for n in needles)]
    return wait_for(found, WAIT, message=f"a warning about {needles}")


@pytest.mark.parametrize("junk", [
    os.urandom(256),
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\xff" + os.urandom(255),
    b"",
], ids=["random", "http", "bad-greeting", "silent"])
def test_random_bytes_on_the_port_leave_the_server_serving(served, topic, junk):
    """Whatever ZeroMQ makes of the bytes, nothing reaches an endpoint and calls go on."""
    endpoint, transport, (host, port, _address) = served
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(junk)
        _still_serving(transport, topic)
    assert endpoint.seen.items == ["still serving"]


def test_random_frames_from_a_stranger_are_dropped_and_logged(served, topic, caplog):
    """Bytes not starting a ZMTP 3 greeting are read as ZMTP 1.0 frames: we drop them."""
    endpoint, transport, (host, port, _address) = served
    caplog.set_level(logging.WARNING, logger="messaging_zmq")
    payloads = [os.urandom(40) for _ in range(6)]
    junk = b"".join(bytes([len(p) + 1, 0]) + p for p in payloads)  # length, flags, bytes
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(junk)
        _logged(caplog, "not from a messaging zmq client")
        _still_serving(transport, topic)
    assert endpoint.seen.items == ["still serving"]


def test_stalled_handshake_is_cut_and_logged(served, topic, caplog):
    """A ZMTP greeting that never completes is dropped after three heartbeat intervals."""
    _endpoint, transport, (host, port, _address) = served
    caplog.set_level(logging.WARNING, logger="messaging_zmq")
    with socket.create_connection((host, port), timeout=WAIT) as raw:
        raw.sendall(b"\xff" + b"\0" * 8 + b"\x7f")  # a greeting's signature, then silence
        raw.settimeout(WAIT)
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass
    _logged(caplog, "failed the ZeroMQ handshake")
    _still_serving(transport, topic)


@pytest.mark.parametrize("frames, needle", [
    ([b"no header line"], "not from a messaging zmq client"),
    ([b"messaging-zmq/1 cast x\n", b"{}"], "not from a messaging zmq client"),
    ([b"other-protocol/9 cast x\n{}"], "not from a messaging zmq client"),
    ([b"messaging-zmq/1 launch rpc/openstack/x\n{}"], "not from a messaging zmq client"),
    ([b"messaging-zmq/1 cast rpc/openstack/somebody_else\n{}"], "stale matchmaker entry"),
], ids=["no-header", "two-frames", "other-protocol", "unknown-kind", "key-not-served"])
def test_frames_not_from_the_driver_are_dropped_and_logged(served, topic, caplog, stranger,
                                                           frames, needle):
    endpoint, transport, (_host, _port, address) = served
    caplog.set_level(logging.WARNING, logger="messaging_zmq")
    stranger(address).send_multipart(frames)
    _logged(caplog, needle)
    _still_serving(transport, topic)
    assert endpoint.seen.items == ["still serving"]


def test_oversized_frame_is_refused_and_the_server_keeps_serving(served, topic):
    endpoint, transport, (_host, _port, address) = served
    key = rpc_key(messaging.Target(topic=topic), "openstack")
    body = encode(wrap(build_request({"method": "echo", "args": {"value": "x" * LIMIT}}, {})))
    small = encode(wrap(build_request({"method": "echo", "args": {"value": "small"}}, {})))
    ctx = zmq.Context()
    try:
        stranger = ctx.socket(zmq.DEALER)
        stranger.connect(address)
        stranger.send(pack(CAST, key, body))  # over the limit: dropped
        stranger.send(pack(CAST, key, small))  # same connection, now cut
        _still_serving(transport, topic)
        again = ctx.socket(zmq.DEALER)  # a new connection within the limit works
        again.connect(address)
        again.send(pack(CAST, key, small))
        endpoint.seen.wait_count(2)
        assert endpoint.seen.items == ["still serving", "small"]
    finally:
        ctx.destroy(linger=0)


def test_client_refuses_an_oversized_message_at_once(served, topic):
    _endpoint, transport, _address = served
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=WAIT)
    with pytest.raises(messaging.MessageDeliveryFailure, match="zmq_max_message_size"):
        client.call({}, "echo", value="x" * LIMIT)
    with pytest.raises(messaging.MessageDeliveryFailure, match="zmq_max_message_size"):
        client.cast({}, "echo", value="x" * LIMIT)


def test_oversized_result_comes_back_as_an_error_not_a_timeout(served, topic):
    _endpoint, transport, _address = served
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=WAIT)
    with pytest.raises(ValueError, match="zmq_max_message_size"):
        client.call({}, "big", size=LIMIT * 2)
    assert client.call({}, "echo", value="after") == "after"
