"""fake:// fanout casts: one copy per listening server, dropped when nobody listens."""

from __future__ import annotations

from typing import Any

import pytest

from messaging.driver import Listener
from messaging.target import Target
from messaging.transport import Transport


def _req(method: str, **args: Any) -> dict[str, Any]:
    return {"method": method, "args": args}


def _methods(listener: Listener, expected: int) -> list[str]:
    got: list[str] = []
    while len(got) < expected:
        batch = listener.poll(timeout=5, max_messages=10)
        assert batch, f"got only {got}"
        for msg in batch:
            msg.acknowledge()
            got.append(msg.message["method"])
    assert listener.poll(timeout=0) == []
    return got


def test_fanout_reaches_every_listening_server(transport: Transport) -> None:
    s1 = transport.listen(Target(topic="t", server="s1"))
    s2 = transport.listen(Target(topic="t", server="s2"))
    transport.cast(Target(topic="t", fanout=True), {"who": "me"}, _req("hello"))
    for listener in (s1, s2):
        [msg] = listener.poll(timeout=5)
        assert (msg.ctxt, msg.message) == ({"who": "me"}, {"method": "hello", "args": {}})
        msg.acknowledge()
        assert listener.poll(timeout=0) == []


def test_fanout_and_topic_messages_both_arrive(transport: Transport) -> None:
    s1 = transport.listen(Target(topic="t", server="s1"))
    transport.cast(Target(topic="t"), {}, _req("topic"))
    transport.cast(Target(topic="t", fanout=True), {}, _req("fanout"))
    transport.cast(Target(topic="t", server="s1"), {}, _req("direct"))
    assert sorted(_methods(s1, 3)) == ["direct", "fanout", "topic"]


def test_fanout_without_listeners_is_dropped(transport: Transport) -> None:
    transport.cast(Target(topic="t", fanout=True), {}, _req("nobody_heard"))
    s1 = transport.listen(Target(topic="t", server="s1"))
    assert s1.poll(timeout=0) == []


def test_cleaned_up_server_gets_no_more_fanout(transport: Transport) -> None:
    s1 = transport.listen(Target(topic="t", server="s1"))
    s2 = transport.listen(Target(topic="t", server="s2"))
    s1.cleanup()  # its fanout queue is deleted with it
    transport.cast(Target(topic="t", fanout=True), {}, _req("after"))
    assert _methods(s2, 1) == ["after"]
    again = transport.listen(Target(topic="t", server="s1"))
    assert again.poll(timeout=0) == []


def test_fanout_is_per_topic_not_per_exchange(transport: Transport) -> None:
    """As on RabbitMQ, the fanout exchange is ``<topic>_fanout`` whatever the control exchange."""
    a = transport.listen(Target(exchange="ex_a", topic="t", server="s1"))
    b = transport.listen(Target(exchange="ex_b", topic="t", server="s2"))
    other = transport.listen(Target(exchange="ex_a", topic="u", server="s1"))
    transport.cast(Target(topic="t", fanout=True), {}, _req("all"))
    assert _methods(a, 1) == ["all"]
    assert _methods(b, 1) == ["all"]
    assert other.poll(timeout=0) == []


def test_call_with_fanout_is_refused(transport: Transport) -> None:
    from messaging.exceptions import InvalidTarget

    with pytest.raises(InvalidTarget):
        transport.driver.call(Target(topic="t", fanout=True), {}, _req("m"), timeout=1)
