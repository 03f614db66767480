"""Calls and casts between processes: results, casts, competing and named servers, errors.

Every server here runs in a child process (``zmq_peer.py``); the client is
this process. Each test runs with the local matchmaker and with Redis.
"""

from __future__ import annotations

import time

import pytest

import messaging

WAIT = 20.0  # seconds for a delivery


def _client(transport, topic, **kwargs):
    return messaging.get_rpc_client(transport, messaging.Target(topic=topic, **kwargs),
                                    timeout=WAIT)


def test_call_returns_result_and_context_from_another_process(url, topic, peers, transports):
    peers("p1", url, rpc=[(topic, "s1")])
    client = _client(transports(url), topic)
    got = client.call({"user": "alice"}, "echo", value={"n": [1, 2.5, None, "é"]})
    assert got["value"] == {"n": [1, 2.5, None, "é"]}
    assert got["server"] == "s1" and got["ctxt"]["user"] == "alice"
    assert [client.call({}, "echo", value=i)["value"] for i in range(20)] == list(range(20))


def test_cast_reaches_the_server_process(url, topic, peers, transports):
    peer = peers("p1", url, rpc=[(topic, "s1")])
    client = _client(transports(url), topic)
    for i in range(5):
        assert client.cast({}, "record", value=i) is None
    got = peer.wait_event(lambda e: e["event"] == "cast", count=5)
    assert sorted(e["value"] for e in got) == [0, 1, 2, 3, 4]


def test_competing_server_processes_share_the_calls(url, topic, peers, transports):
    one = peers("p1", url, rpc=[(topic, "s1")])
    two = peers("p2", url, rpc=[(topic, "s2")])
    client = _client(transports(url), topic)
    answers = [client.call({}, "whoami", n=i) for i in range(40)]
    for peer, name in ((one, "s1"), (two, "s2")):  # their stdout may lag behind the replies
        peer.wait_event(lambda e: e["event"] == "call", count=answers.count(name))
    handled = [e["value"] for e in one.of("call") + two.of("call")]
    assert sorted(handled) == list(range(40))  # each call handled exactly once
    assert set(answers) == {"s1", "s2"}, "the client did not spread the calls"
    assert len(one.of("call")) == answers.count("s1")


def test_call_and_cast_to_a_named_server_process(url, topic, peers, transports):
    peers("p1", url, rpc=[(topic, "s1")])
    two = peers("p2", url, rpc=[(topic, "s2")])
    client = _client(transports(url), topic)
    for name in ("s1", "s2", "s2", "s1"):
        assert client.prepare(server=name).call({}, "whoami") == name
    for i in range(3):
        client.prepare(server="s2").cast({}, "record", value=i)
    assert sorted(e["value"] for e in two.wait_event(lambda e: e["event"] == "cast",
                                                     count=3)) == [0, 1, 2]


def test_namespaces_and_versions_across_processes(url, topic, peers, transports):
    peers("p1", url, rpc=[(topic, "s1")])
    client = _client(transports(url), topic)
    assert client.prepare(namespace="ns2", version="1.2").call({}, "echo", value="x") == "ns2:x"
    with pytest.raises(messaging.UnsupportedVersion):
        client.prepare(namespace="ns2", version="1.4").call({}, "echo", value="x")
    with pytest.raises(messaging.NoSuchMethod):
        client.call({}, "no_such_method")
    assert client.call({}, "echo", value="still")["value"] == "still"


def test_remote_errors_across_processes(url, topic, peers, transports):
    peers("p1", url, rpc=[(topic, "s1")])
    client = _client(transports(url), topic)
    with pytest.raises(ValueError) as info:
        client.call({}, "value_error")
    assert info.value.args == ("bad value", 42)
    with pytest.raises(messaging.RemoteError) as remote:
        client.call({}, "app_error")
    assert remote.value.exc_type == "AppError" and "custom failure" in str(remote.value.value)


def test_slow_server_process_times_out_then_serves(url, topic, peers, transports):
    peers("p1", url, rpc=[(topic, "s1")])
    client = _client(transports(url), topic)
    began = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client.prepare(timeout=1).call({}, "sleep_for", seconds=3)
    assert time.monotonic() - began < 1 + 2
    assert client.call({}, "sleep_for", seconds=0) == 0


def test_call_without_any_server_times_out(url, topic, transports):
    client = _client(transports(url), topic)
    began = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout) as info:
        client.prepare(timeout=1).call({}, "echo", value=1)
    assert 0.9 <= time.monotonic() - began < 1 + 2
    assert "echo" in str(info.value)


def test_call_waits_for_a_server_that_registers_during_its_timeout(url, topic, peers,
                                                                   transports):
    client = _client(transports(url), topic)
    peer = peers("p1", url, rpc=[(topic, "s1")], ready=False)
    assert client.call({}, "echo", value="late")["value"] == "late"
    peer.ready()


def test_many_calls_in_flight_to_server_processes(url, topic, peers, transports):
    peers("p1", url, rpc=[(topic, "s1")])
    peers("p2", url, rpc=[(topic, "s2")])
    transport = transports(url)
    futures = [transport.submit_call(messaging.Target(topic=topic), {},
                                     {"method": "echo", "args": {"value": i}}, timeout=WAIT)
               for i in range(300)]
    replies = [f.result(WAIT) for f in futures]
    assert [r.result["value"] for r in replies] == list(range(300))
    assert {r.result["server"] for r in replies} == {"s1", "s2"}
