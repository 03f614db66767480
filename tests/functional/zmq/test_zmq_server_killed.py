"""A server process killed mid-run (SIGKILL): bounded failures, expiry, then the survivors.

The servers refresh their matchmaker entries every second with a TTL of
three seconds (``zmq_target_update=1``, ``zmq_target_expire=3``), so the
test need not wait for the defaults (10 s and 30 s).
"""

from __future__ import annotations

import time

import pytest
from messaging_zmq.frames import rpc_key

import messaging
from messaging.testing.helpers import wait_for

WAIT = 20.0
EXPIRE = 3
TIMEOUT = 2.0


def _fast(url: str) -> str:
    return f"{url}?zmq_target_expire={EXPIRE}&zmq_target_update=1"


def test_killed_server_fails_calls_in_time_expires_and_survivor_serves(url, topic, peers,
                                                                      transports):
    fast = _fast(url)
    doomed = peers("doomed", fast, rpc=[(topic, "s1")])
    started = time.monotonic()
    peers("survivor", fast, rpc=[(topic, "s2")])
    transport = transports(fast)
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                      timeout=TIMEOUT)
    assert {client.call({}, "whoami") for _ in range(10)} == {"s1", "s2"}
    matchmaker = transport.driver.matchmaker
    key = rpc_key(messaging.Target(topic=topic), "openstack")
    assert len(matchmaker.lookup(key)) == 2

    doomed.kill()

    # A call to the dead server fails with MessagingTimeout within its timeout.
    began = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client.prepare(server="s1").call({}, "whoami")
    assert time.monotonic() - began < TIMEOUT + 1.5

    # Calls to the topic go to the survivor as soon as the dead connection is noticed
    # (a call already on its way to the dead server may time out meanwhile).
    outcomes: list[str] = []

    def twenty_in_a_row() -> bool:
        try:
            outcomes.append(client.call({}, "whoami"))
        except messaging.MessagingTimeout:
            outcomes.append("timeout")
        return outcomes[-20:] == ["s2"] * 20

    wait_for(twenty_in_a_row, WAIT, interval=0, message="calls to go to the survivor")
    assert outcomes.count("timeout") <= 2, outcomes
    assert "s1" not in outcomes

    # The dead server's entry expires; the survivor's, refreshed, outlives the TTL.
    wait_for(lambda: len(matchmaker.lookup(key)) == 1, EXPIRE + 5, interval=0.1,
             message="the dead server's matchmaker entry to expire")
    time.sleep(max(0.0, started + EXPIRE + 1 - time.monotonic()))  # older than one TTL
    assert len(matchmaker.lookup(key)) == 1

    # A client that never saw the dead server finds only the survivor.
    fresh = messaging.get_rpc_client(transports(fast), messaging.Target(topic=topic),
                                     timeout=TIMEOUT)
    assert [fresh.call({}, "whoami") for _ in range(20)] == ["s2"] * 20


def test_stopped_server_leaves_the_matchmaker_at_once(url, topic, peers, transports):
    fast = _fast(url)
    peer = peers("p1", fast, rpc=[(topic, "s1")])
    matchmaker = transports(fast).driver.matchmaker
    keys = [rpc_key(messaging.Target(topic=topic), "openstack"),
            rpc_key(messaging.Target(topic=topic, server="s1"), "openstack")]
    assert all(len(matchmaker.lookup(k)) == 1 for k in keys)
    peer.stop()
    assert [matchmaker.lookup(k) for k in keys] == [[], []]
