"""``TransportOptions(at_least_once=True)``: a request no server can take fails at once.

oslo.messaging publishes such requests mandatory and the broker returns
them; the caller gets ``MessageUndeliverable`` instead of a dropped cast or
a call that waits for its timeout. Drivers that cannot tell refuse the
option (``NotSupported``) rather than ignore it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import messaging
from messaging.driver import Driver, Listener, Reply
from messaging.testing.helpers import Recorder, running_server
from messaging.transport import RPCTransport

AT_LEAST_ONCE = messaging.TransportOptions(at_least_once=True)


class _Endpoint:
    def __init__(self) -> None:
        self.seen = Recorder()

    def ping(self, ctxt):
        return "pong"

    def note(self, ctxt, value):
        self.seen.add(value)


def test_transport_options_are_oslos():
    assert messaging.TransportOptions().at_least_once is False
    assert AT_LEAST_ONCE.at_least_once is True
    with pytest.raises(AttributeError):
        AT_LEAST_ONCE.at_least_once = False  # read-only, as oslo's


def test_a_call_nobody_serves_raises_message_undeliverable_at_once(transport):
    client = messaging.get_rpc_client(transport, messaging.Target(topic="nobody_home"),
                                      timeout=30, transport_options=AT_LEAST_ONCE)
    started = time.monotonic()
    with pytest.raises(messaging.MessageUndeliverable) as caught:
        client.call({}, "ping")
    assert time.monotonic() - started < 5  # not the 30 s timeout
    assert caught.value.routing_key == "nobody_home"


def test_a_cast_nobody_serves_raises_message_undeliverable(transport):
    client = messaging.get_rpc_client(transport, messaging.Target(topic="nobody_home"),
                                      transport_options=AT_LEAST_ONCE)
    with pytest.raises(messaging.MessageUndeliverable):
        client.cast({}, "note", value=1)
    with pytest.raises(messaging.MessageUndeliverable):
        client.prepare(server="absent").cast({}, "note", value=1)


def test_the_future_forms_fail_with_message_undeliverable(transport):
    target = messaging.Target(topic="nobody_home")
    request = {"method": "ping", "args": {}}
    with pytest.raises(messaging.MessageUndeliverable):
        transport.submit_call(target, {}, request, timeout=30, mandatory=True).result(5)
    with pytest.raises(messaging.MessageUndeliverable):
        transport.submit_cast(target, {}, request, mandatory=True).result(5)


def _served_later_never_sees_it(transport, topic: str) -> None:
    """A server started after the cast gets only what is sent from then on."""
    endpoint = _Endpoint()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s"),
                                      [endpoint])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
        client.cast({}, "note", value="after")
        assert client.call({}, "ping") == "pong"
        assert endpoint.seen.wait_count(1) == ["after"]  # the earlier cast was dropped


def test_without_the_option_a_cast_nobody_serves_is_dropped(transport):
    client = messaging.get_rpc_client(transport, messaging.Target(topic="nobody_home"))
    assert client.cast({}, "note", value=1) is None  # at-most-once, as oslo without the option
    _served_later_never_sees_it(transport, "nobody_home")


def test_served_requests_go_through_as_usual(transport):
    endpoint = _Endpoint()
    server = messaging.get_rpc_server(transport, messaging.Target(topic="served", server="s"),
                                      [endpoint])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic="served"),
                                          timeout=10, transport_options=AT_LEAST_ONCE)
        assert client.call({}, "ping") == "pong"
        client.cast({}, "note", value=1)
        client.prepare(server="s").cast({}, "note", value=2)
        assert sorted(endpoint.seen.wait_count(2)) == [1, 2]


def test_fanout_casts_are_not_mandatory_as_in_oslo(transport):
    client = messaging.get_rpc_client(transport, messaging.Target(topic="nobody_home"),
                                      transport_options=AT_LEAST_ONCE)
    # no error: nothing says how many servers a fanout should have reached
    assert client.prepare(fanout=True).cast({}, "note", value=1) is None
    _served_later_never_sees_it(transport, "nobody_home")


class _NoMandatory(Driver):
    """A driver that cannot tell an unroutable request (no ``capabilities.mandatory``)."""

    def __init__(self) -> None:
        super().__init__(None, messaging.TransportURL.parse("plain://"))
        self.sent: list[str] = []

    def call(self, target: messaging.Target, ctxt: Mapping[str, Any],
             message: Mapping[str, Any], *, timeout: float,
             call_monitor_timeout: float | None = None, retry: int | None = None) -> Reply:
        self.sent.append("call")
        return Reply(result="pong")

    def cast(self, target: messaging.Target, ctxt: Mapping[str, Any],
             message: Mapping[str, Any], *, retry: int | None = None) -> None:
        self.sent.append("cast")

    def notify(self, target: messaging.Target, ctxt: Mapping[str, Any],
               message: Mapping[str, Any], *, version: float = 2.0,
               retry: int | None = None) -> None:
        pass

    def listen(self, target: messaging.Target) -> Listener:
        raise NotImplementedError

    def listen_for_notifications(self, targets_and_priorities: Sequence[Any],
                                 pool: str | None = None) -> Listener:
        raise NotImplementedError


def test_a_driver_that_cannot_tell_refuses_the_option():
    driver = _NoMandatory()
    transport = RPCTransport(driver)
    client = messaging.get_rpc_client(transport, messaging.Target(topic=f"t{uuid.uuid4().hex}"),
                                      transport_options=AT_LEAST_ONCE)
    with pytest.raises(messaging.NotSupported, match="at_least_once"):
        client.call({}, "ping")
    with pytest.raises(messaging.NotSupported, match="at_least_once"):
        client.cast({}, "note", value=1)
    assert driver.sent == []  # nothing was sent, nothing silently downgraded
    plain = messaging.get_rpc_client(transport, messaging.Target(topic="t"))
    assert plain.call({}, "ping") == "pong"  # and the keyword never reaches it otherwise
    plain.cast({}, "note", value=1)
    assert driver.sent == ["call", "cast"]
