"""``rabbit_stream_fanout`` with oslo.messaging 18.3.1 servers and clients on the same stream.

Both libraries declare the ``<topic>_fanout`` stream with the same
arguments (a difference would be 406 PRECONDITION_FAILED for the second),
and a fanout cast from either reaches the servers of both. oslo runs in a
process of its own (``oslo_peer.py``).
"""

from __future__ import annotations

import json
import threading

import pytest

import messaging

pytestmark = pytest.mark.rabbit

OPTIONS = {"rabbit_stream_fanout": True, "rabbit_qos_prefetch_count": 10,
           "rabbit_transient_quorum_queue": True}
QUERY = "&".join(f"{k}={str(v).lower()}" for k, v in OPTIONS.items())


class Notes:
    def __init__(self) -> None:
        self.values: list[str] = []
        self.changed = threading.Condition()

    def note(self, ctxt, value):
        with self.changed:
            self.values.append(value)
            self.changed.notify_all()

    def echo(self, ctxt, **kwargs):
        return dict(kwargs, by="ours")


def test_fanout_casts_from_either_library_reach_the_servers_of_both(
        peers, url, ours, running, topic, wait):
    oslo_server = peers("server", url, topic, json.dumps(OPTIONS))
    assert oslo_server.line()["ready"]
    transport = messaging.get_rpc_transport(
        None, url.replace("rabbit://", f"{ours}://", 1) + "?" + QUERY)
    try:
        notes = Notes()
        running(messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                         [notes], executor="threading"))
        (listener,) = transport.driver._listeners
        assert f"{topic}_fanout" in listener.streams  # the same stream as oslo's

        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
        client.prepare(fanout=True).cast({}, "note", value="from-ours")
        assert oslo_server.line() == {"note": "from-ours"}
        wait(lambda: notes.values == ["from-ours"], what="our server gets our cast")

        oslo_client = peers("client", url, topic, json.dumps(OPTIONS), "0")
        oslo_client.line()
        oslo_client.send("from-oslo")
        assert oslo_client.line() == {"cast": "from-oslo"}
        assert oslo_server.line() == {"note": "from-oslo"}
        wait(lambda: notes.values == ["from-ours", "from-oslo"], timeout=20,
             what="our server gets oslo's cast")
    finally:
        transport.cleanup()
