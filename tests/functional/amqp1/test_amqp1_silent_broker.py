"""A broker that accepts TCP and never speaks AMQP: every verb still ends within its bound.

The peer here is a small socket server that accepts every connection, reads
and discards what the client writes (the AMQP header, SASL), and never
answers. A call must end with ``MessagingTimeout`` at its timeout (not at
``connect_timeout``, not never), a cast or notification with
``MessageDeliveryFailure`` at ``default_send_timeout`` /
``default_notify_timeout``.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator

import pytest

import messaging

#: Leeway over a bound for a loaded 2-core machine (the bug is "never", or connect_timeout).
_SLACK = 2.5


class SilentBroker:
    """Accepts connections on a loopback port and never writes a byte."""

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._server.setblocking(False)
        self.port = int(self._server.getsockname()[1])
        self.accepted = 0
        self.got_bytes = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="silent-broker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._server, selectors.EVENT_READ)
        clients: list[socket.socket] = []
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._server:
                        conn, _ = self._server.accept()
                        conn.setblocking(False)
                        clients.append(conn)
                        sel.register(conn, selectors.EVENT_READ)
                        self.accepted += 1
                        continue
                    try:
                        data = sock.recv(4096)
                    except OSError:
                        data = b""
                    if data:
                        self.got_bytes.set()
                    else:
                        sel.unregister(sock)
                        sock.close()
        finally:
            for conn in clients:
                conn.close()
            sel.close()
            self._server.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def silent() -> Iterator[SilentBroker]:
    broker = SilentBroker()
    try:
        yield broker
    finally:
        broker.close()


def _url(port: int, query: str = "") -> str:
    # connect_timeout well past the bounds under test: they must hold on their own.
    base = (f"amqp://guest:guest@127.0.0.1:{port}/?connect_timeout=30"
            f"&connection_retry_interval=0.2&connection_retry_backoff=0")
    return base + (f"&{query}" if query else "")


def test_a_call_ends_with_messaging_timeout_at_its_timeout(make_transport, silent, topic):
    transport = make_transport(url_=_url(silent.port))
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=2)
    start = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client.call({}, "anything")
    took = time.monotonic() - start
    assert 1.9 <= took < 2 + _SLACK
    assert silent.accepted >= 1 and silent.got_bytes.is_set()  # it did reach the silent peer


def test_a_cast_fails_with_delivery_failure_at_the_send_timeout(make_transport, silent, topic):
    transport = make_transport(url_=_url(silent.port, "default_send_timeout=2"))
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
    start = time.monotonic()
    with pytest.raises(messaging.MessageDeliveryFailure):
        client.cast({}, "anything")
    took = time.monotonic() - start
    assert 1.9 <= took < 2 + _SLACK
    assert silent.accepted >= 1


def test_a_notification_fails_with_delivery_failure_at_the_notify_timeout(
        make_transport, silent, topic):
    transport = make_transport(url_=_url(silent.port, "default_notify_timeout=2"))
    start = time.monotonic()
    with pytest.raises(messaging.MessageDeliveryFailure):
        transport.notify(messaging.Target(topic=f"{topic}.info"), {},
                         {"priority": "INFO", "event_type": "e", "payload": {}})
    took = time.monotonic() - start
    assert 1.9 <= took < 2 + _SLACK
    assert silent.accepted >= 1
