"""Fanout casts between processes: the first fanout after a server starts is not lost.

ZeroMQ's PUB/SUB drops what is published before a subscription arrived;
the driver waits for each newly found server's hello subscription first.
"""

from __future__ import annotations

import messaging

WAIT = 20.0  # seconds for a delivery


def _fanout(transport, topic):
    return messaging.get_rpc_client(transport, messaging.Target(topic=topic, fanout=True))


def test_first_fanout_reaches_every_server_process(url, topic, peers, transports):
    procs = [peers(f"p{i}", url, rpc=[(topic, f"s{i}")]) for i in range(3)]
    _fanout(transports(url), topic).cast({}, "record", value="first")
    for proc in procs:
        [event] = proc.wait_event(lambda e: e["event"] == "cast")
        assert event["value"] == "first"


def test_every_fanout_reaches_every_server(url, topic, peers, transports):
    procs = [peers(f"p{i}", url, rpc=[(topic, f"s{i}")]) for i in range(2)]
    client = _fanout(transports(url), topic)
    for i in range(10):
        client.cast({}, "record", value=i)
    for proc in procs:
        got = proc.wait_event(lambda e: e["event"] == "cast", count=10)
        assert sorted(e["value"] for e in got) == list(range(10))  # threading executor


def test_server_started_later_gets_the_next_fanout(url, topic, peers, transports):
    """With lookups not cached, the next fanout finds the new server (and waits for its hello)."""
    first = peers("p0", url, rpc=[(topic, "s0")])
    client = _fanout(transports(f"{url}?zmq_lookup_cache=0"), topic)
    client.cast({}, "record", value="before")
    first.wait_event(lambda e: e["event"] == "cast")
    late = peers("p1", url, rpc=[(topic, "s1")])
    client.cast({}, "record", value="after")
    assert [e["value"] for e in late.wait_event(lambda e: e["event"] == "cast")] == ["after"]
    assert [e["value"] for e in first.wait_event(lambda e: e["event"] == "cast", count=2)
            ] == ["before", "after"]


def test_fanout_to_no_server_is_dropped_without_error(url, topic, transports):
    assert _fanout(transports(url), topic).cast({}, "record", value=1) is None
