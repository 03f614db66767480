"""``kombu_compression``: gzip, bzip2 and lzma bodies cross every pair of peers.

kombu compresses the body and names the method in a ``compression``
header; a receiver decompresses whenever the header is there, whatever its
own setting. So each test gives the two sides *different* methods (the
client one, the server the next): requests and replies are compressed
both ways and each side reads a method it does not send. Peers: our two
drivers (``ours`` and the other), and oslo.messaging 18.x, which reads the
option from the URL query as we do. What oslo and we put on the wire is
also read back raw, with kombu's own decoder and with ours.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import kombu
import kombu.compression
import pytest
from messaging_amqp091.codec import decode_body

import messaging
from messaging.notify import Notifier, get_notification_listener

pytestmark = pytest.mark.rabbit

#: kombu_compression names and the content type kombu puts in the header for each
METHODS = {"gzip": "application/x-gzip", "bzip2": "application/x-bz2",
           "lzma": "application/x-lzma"}


@pytest.fixture(params=list(METHODS))
def method(request: pytest.FixtureRequest) -> str:
    """The client's method (the server uses the next one in :data:`METHODS`)."""
    return str(request.param)


def _other_method(method: str) -> str:
    names = list(METHODS)
    return names[(names.index(method) + 1) % len(names)]


def _compressed(url: str, scheme: str, method: str) -> str:
    return f"{url.replace('rabbit://', f'{scheme}://', 1)}?kombu_compression={method}"


@pytest.fixture
def transports() -> Iterator[list[Any]]:
    """Transports (ours or oslo's) made by a test, cleaned up after its servers stopped."""
    made: list[Any] = []
    yield made
    for transport in reversed(made):
        transport.cleanup()


class _Endpoint:
    def __init__(self) -> None:
        self.casts: list[Any] = []
        self.notes: list[Any] = []
        self._lock = threading.Lock()

    def add(self, ctxt, a, b):
        return {"sum": a + b, "text": "x" * 200}  # compressible: the reply shrinks

    def note(self, ctxt, value):
        with self._lock:
            self.casts.append(value)

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self._lock:
            self.notes.append((event_type, payload))


def _round_trip(client: Any, endpoint: _Endpoint, wait: Callable[..., Any]) -> None:
    assert client.call({}, "add", a=2, b=3) == {"sum": 5, "text": "x" * 200}
    client.cast({}, "note", value="compressed")
    wait(lambda: endpoint.casts == ["compressed"], what="the compressed cast")


def test_compressed_traffic_crosses_between_our_two_drivers(url, ours, method, transports,
                                                            running, wait, topic):
    other = "pika" if ours == "rabbit" else "rabbit"
    client_t = messaging.get_rpc_transport(None, _compressed(url, ours, method))
    server_t = messaging.get_rpc_transport(None, _compressed(url, other,
                                                             _other_method(method)))
    transports.extend([client_t, server_t])
    endpoint = _Endpoint()
    running(messaging.get_rpc_server(server_t, messaging.Target(topic=topic, server="s"),
                                     [endpoint], executor="threading"))
    _round_trip(messaging.get_rpc_client(client_t, messaging.Target(topic=topic), timeout=10),
                endpoint, wait)

    source = messaging.get_notification_transport(None, _compressed(url, ours, method))
    sink = messaging.get_notification_transport(None, url.replace("rabbit://",
                                                                  f"{other}://", 1))
    transports.extend([source, sink])
    running(get_notification_listener(sink, [messaging.Target(topic=topic)], [endpoint],
                                      executor="threading"))
    Notifier(source, publisher_id="p", driver="messagingv2", topics=[topic]).info(
        {}, "thing.done", {"n": 1})
    wait(lambda: endpoint.notes == [("thing.done", {"n": 1})], what="the notification")


def test_an_oslo_client_and_our_server_both_compress(oslo, oslo_conf, url, ours, method,
                                                     transports, running, wait, topic):
    server_t = messaging.get_rpc_transport(None, _compressed(url, ours, _other_method(method)))
    oslo_t = oslo.get_rpc_transport(oslo_conf, url=_compressed(url, "rabbit", method))
    transports.extend([server_t, oslo_t])
    endpoint = _Endpoint()
    running(messaging.get_rpc_server(server_t, messaging.Target(topic=topic, server="s"),
                                     [endpoint], executor="threading"))
    _round_trip(oslo.get_rpc_client(oslo_t, oslo.Target(topic=topic), timeout=10), endpoint,
                wait)


def test_our_client_and_an_oslo_server_both_compress(oslo, oslo_conf, url, ours, method,
                                                     transports, running, wait, topic):
    client_t = messaging.get_rpc_transport(None, _compressed(url, ours, method))
    oslo_t = oslo.get_rpc_transport(oslo_conf, url=_compressed(url, "rabbit",
                                                               _other_method(method)))
    transports.extend([client_t, oslo_t])
    endpoint = _Endpoint()
    running(oslo.get_rpc_server(oslo_t, oslo.Target(topic=topic, server="o"), [endpoint]))
    _round_trip(messaging.get_rpc_client(client_t, messaging.Target(topic=topic), timeout=10),
                endpoint, wait)


def test_compressed_notifications_cross_with_oslo_both_ways(oslo, oslo_conf, url, ours, method,
                                                           transports, running, wait, topic):
    ours_t = messaging.get_notification_transport(None, _compressed(url, ours, method))
    oslo_t = oslo.get_notification_transport(oslo_conf, url=_compressed(url, "rabbit",
                                                                        method))
    transports.extend([ours_t, oslo_t])
    mine, theirs = _Endpoint(), _Endpoint()
    running(get_notification_listener(ours_t, [messaging.Target(topic=f"{topic}_in")], [mine],
                                      executor="threading"))
    running(oslo.get_notification_listener(oslo_t, [oslo.Target(topic=f"{topic}_out")],
                                           [theirs]))
    oslo.Notifier(oslo_t, publisher_id="o", driver="messagingv2",
                  topics=[f"{topic}_in"]).info({}, "from.oslo", {"n": 1})
    Notifier(ours_t, publisher_id="m", driver="messagingv2",
             topics=[f"{topic}_out"]).info({}, "from.us", {"n": 2})
    wait(lambda: mine.notes == [("from.oslo", {"n": 1})], what="oslo's notification")
    wait(lambda: theirs.notes == [("from.us", {"n": 2})], what="ours at oslo's listener")


def _grab(url: str, key: str, send: Callable[[], None]) -> tuple[bytes, dict[str, Any]]:
    """Declare oslo's queue for ``key``, run ``send``; the raw body and headers it got."""
    with kombu.Connection(url.replace("rabbit://", "amqp://", 1)) as conn:
        channel = conn.default_channel
        kombu.Queue(key, kombu.Exchange("openstack", "topic", durable=False), key,
                    durable=False)(channel).declare()
        send()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = channel.basic_get(key, no_ack=True)  # py-amqp's: the bytes as sent
            if message is not None:
                return bytes(message.body), dict(message.headers or {})
            time.sleep(0.02)
    raise AssertionError(f"nothing arrived on {key}")


def test_oslo_and_we_put_the_same_compressed_bodies_on_the_wire(oslo, oslo_conf, url, ours,
                                                                method, transports, topic):
    oslo_t = oslo.get_rpc_transport(oslo_conf, url=_compressed(url, "rabbit", method))
    ours_t = messaging.get_rpc_transport(None, _compressed(url, ours, method))
    transports.extend([oslo_t, ours_t])
    theirs = _grab(url, topic, lambda: oslo.get_rpc_client(
        oslo_t, oslo.Target(topic=topic)).cast({"user": "u"}, "m", a=1))
    mine = _grab(url, topic, lambda: messaging.get_rpc_client(
        ours_t, messaging.Target(topic=topic)).cast({"user": "u"}, "m", a=1))
    inners = []
    for body, headers in (theirs, mine):
        assert headers == {"compression": METHODS[method]}
        with pytest.raises(ValueError):
            json.loads(body)  # compressed, not JSON text
        # kombu's own decompressor and our codec read it alike: the 2.0 envelope
        envelope = json.loads(kombu.compression.decompress(body, METHODS[method]))
        assert decode_body(body, headers) == envelope
        inner = json.loads(envelope["oslo.message"])
        assert (inner["method"], inner["args"], inner["_context_user"]) == ("m", {"a": 1}, "u")
        inners.append(list(inner))
    assert inners[0] == inners[1]  # the same keys in the same order
