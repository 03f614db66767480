"""A reply sent just before its server closes reaches the caller, however late it reads it.

A server stopped with calls in flight answers them and then closes its
ROUTER at once (the kit's test_server_stop_answers_calls_in_flight). If the
caller's process is slow to read its socket (a loaded machine), the
connection is gone before the reply was read. libzmq drops what such a
connection received and nobody read when the socket has ``ZMQ_IMMEDIATE``,
which the client's DEALERs had: the call then timed out. Here the caller's
I/O thread is held on purpose until its end of the TCP connection is
closed (libzmq handled the disconnect), then let go: the reply must still
be there.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

import messaging
from messaging.driver import Reply, RpcIncomingMessage
from messaging.testing.helpers import wait_for

WAIT = 20.0
# /proc/net/tcp states
_ESTABLISHED, _CLOSE_WAIT = "01", "08"


def _open_to(port: int) -> bool:
    """True while this host has a connection to local ``port`` still open on the client side."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] in (_ESTABLISHED, _CLOSE_WAIT):
                return True
    return False


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs /proc/net/tcp")
def test_reply_read_after_the_server_closed_is_not_lost(url: str, topic: str,
                                                        transports: Any) -> None:
    server_transport = transports(url)
    client_transport = transports(url)
    target = messaging.Target(topic=topic, server="s1")
    listener = server_transport.driver.listen(target)
    port = int(listener.router_endpoint.advertised.rsplit(":", 1)[1])
    client = client_transport.driver
    gate = threading.Event()
    held = threading.Event()
    try:
        future = client.submit_call(target, {}, {"method": "m", "args": {}}, timeout=WAIT)
        got: list[RpcIncomingMessage] = []

        def take() -> bool:
            got.extend(m for m in listener.poll(timeout=0.2) if isinstance(m, RpcIncomingMessage))
            return bool(got)

        wait_for(take, timeout=WAIT, message="the request at the server")

        def hold() -> None:  # the caller's process is too busy to read its sockets
            held.set()
            gate.wait(WAIT)

        client.io_loop.submit(hold)
        assert held.wait(WAIT)
        got[0].acknowledge()
        got[0].reply(Reply(result="answered"))
        listener.cleanup()  # closes the ROUTER right after the reply, as a stopping server does
        wait_for(lambda: not _open_to(port), timeout=WAIT,
                 message="the caller's end of the connection to close")
    finally:
        gate.set()
    reply = future.result(WAIT)
    assert reply.failure is None and reply.result == "answered"
