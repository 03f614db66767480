"""fake:// RPC through the driver SPI: call, cast, server targeting, competing consumers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from messaging.driver import IncomingMessage, Listener, Reply, RpcIncomingMessage
from messaging.exceptions import MessagingTimeout, SerializationError
from messaging.target import Target
from messaging.transport import Transport


def _req(method: str, **args: Any) -> dict[str, Any]:
    return {"method": method, "args": args}


class Server:
    """Polls a listener in a thread and answers with ``handler(message)``."""

    def __init__(self, listener: Listener,
                 handler: Callable[[RpcIncomingMessage], Reply] | None = None) -> None:
        self.listener = listener
        self.handler = handler or (lambda m: Reply(result=m.message["args"]))
        self.seen: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self.listener.poll(timeout=None)
            if not batch:
                return
            for msg in batch:
                assert isinstance(msg, RpcIncomingMessage)
                msg.acknowledge()
                self.seen.append(msg.message)
                msg.reply(self.handler(msg))

    def close(self) -> None:
        self.listener.stop()
        self._thread.join(5)
        assert not self._thread.is_alive()
        self.listener.cleanup()


def _poll_one(listener: Listener, timeout: float = 5.0) -> IncomingMessage:
    got = listener.poll(timeout=timeout)
    assert len(got) == 1, got
    return got[0]


def test_call_round_trip_carries_context_and_result(transport: Transport) -> None:
    ctxts: list[dict[str, Any]] = []

    def handler(msg: RpcIncomingMessage) -> Reply:
        ctxts.append(msg.ctxt)
        assert msg.wants_reply
        return Reply(result={"sum": msg.message["args"]["a"] + msg.message["args"]["b"]})

    server = Server(transport.listen(Target(topic="calc", server="s1")), handler)
    try:
        reply = transport.call(Target(topic="calc"), {"user": "alice"}, _req("add", a=1, b=3),
                               timeout=5)
    finally:
        server.close()
    assert reply == Reply(result={"sum": 4}, failure=None)
    assert ctxts == [{"user": "alice"}]
    assert server.seen == [{"method": "add", "args": {"a": 1, "b": 3}}]


def test_call_returns_failure_dict(transport: Transport) -> None:
    failure = {"class": "ValueError", "module": "builtins", "message": "bad",
               "tb": ["Traceback\n"], "args": ["bad"], "kwargs": {}}
    server = Server(transport.listen(Target(topic="t", server="s1")),
                    lambda m: Reply(failure=failure))
    try:
        reply = transport.call(Target(topic="t"), {}, _req("boom"), timeout=5)
    finally:
        server.close()
    assert reply.result is None
    assert reply.failure == failure


def test_cast_is_delivered_without_reply(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    transport.cast(Target(topic="t"), {"k": "v"}, _req("work", x=1))
    msg = _poll_one(listener)
    assert isinstance(msg, RpcIncomingMessage)
    assert not msg.wants_reply
    assert msg.client_timeout is None
    assert (msg.ctxt, msg.message) == ({"k": "v"}, {"method": "work", "args": {"x": 1}})
    msg.reply(Reply(result=1))  # a no-op for a cast, must not raise
    msg.heartbeat()
    msg.acknowledge()
    assert listener.poll(timeout=0) == []


def test_server_targeted_cast_reaches_only_that_server(transport: Transport) -> None:
    s1 = transport.listen(Target(topic="t", server="s1"))
    s2 = transport.listen(Target(topic="t", server="s2"))
    transport.cast(Target(topic="t", server="s2"), {}, _req("only_s2"))
    assert _poll_one(s2).message["method"] == "only_s2"
    assert s1.poll(timeout=0) == []


def test_server_targeted_call(transport: Transport) -> None:
    servers = [Server(transport.listen(Target(topic="t", server=name)),
                      lambda m, name=name: Reply(result=name)) for name in ("s1", "s2")]
    try:
        for _ in range(5):
            assert transport.call(Target(topic="t", server="s2"), {}, _req("who"),
                                  timeout=5).result == "s2"
    finally:
        for s in servers:
            s.close()


def test_competing_consumers_share_messages_once(transport: Transport) -> None:
    a = transport.listen(Target(topic="work", server="a"))
    b = transport.listen(Target(topic="work", server="b"))
    for i in range(10):
        transport.cast(Target(topic="work"), {}, _req("job", i=i))
    seen: list[tuple[str, int]] = []
    for _ in range(5):  # alternate: each poll takes one message off the shared queue
        for name, listener in (("a", a), ("b", b)):
            msg = _poll_one(listener)
            msg.acknowledge()
            seen.append((name, msg.message["args"]["i"]))
    assert sorted(i for _, i in seen) == list(range(10))
    assert [i for _, i in seen] == list(range(10))  # FIFO on the shared queue
    assert a.poll(timeout=0) == [] and b.poll(timeout=0) == []


def test_competing_consumers_in_threads_handle_each_message_once(transport: Transport) -> None:
    count = 200
    servers = [Server(transport.listen(Target(topic="work", server=n))) for n in ("a", "b")]
    done = threading.Event()
    lock = threading.Lock()
    total: list[int] = []

    def counting(msg: RpcIncomingMessage) -> Reply:
        with lock:
            total.append(msg.message["args"]["i"])
            if len(total) == count:
                done.set()
        return Reply()

    for s in servers:
        s.handler = counting
    try:
        for i in range(count):
            transport.cast(Target(topic="work"), {}, _req("job", i=i))
        assert done.wait(10)
    finally:
        for s in servers:
            s.close()
    assert sorted(total) == list(range(count))


def test_concurrent_calls_from_many_threads(transport: Transport) -> None:
    servers = [Server(transport.listen(Target(topic="t", server=n))) for n in ("a", "b")]
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            for i in range(50):
                reply = transport.call(Target(topic="t"), {}, _req("echo", k=k, i=i), timeout=10)
                assert reply.result == {"k": k, "i": i}
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        for s in servers:
            s.close()
    assert errors == []
    assert len(servers[0].seen) + len(servers[1].seen) == 400


def test_call_without_server_times_out(transport: Transport) -> None:
    start = time.monotonic()
    with pytest.raises(MessagingTimeout) as info:
        transport.call(Target(topic="nobody"), {}, _req("ping"), timeout=0.5)
    elapsed = time.monotonic() - start
    assert 0.45 <= elapsed < 5, elapsed
    assert "topic=nobody" in str(info.value) and "method 'ping'" in str(info.value)


def test_unconsumed_call_request_expires(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))  # never polled during the call
    with pytest.raises(MessagingTimeout):
        transport.call(Target(topic="t"), {}, _req("late"), timeout=0.2)
    transport.cast(Target(topic="t"), {}, _req("after"))
    got = listener.poll(timeout=5, max_messages=10)
    assert [m.message["method"] for m in got] == ["after"]


def test_late_reply_is_dropped_and_next_call_works(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    gave_up = threading.Event()

    def late_server() -> None:
        msg = _poll_one(listener)
        assert isinstance(msg, RpcIncomingMessage)
        msg.acknowledge()
        assert gave_up.wait(5)
        msg.reply(Reply(result="late"))  # its caller is gone: logged at debug and dropped
        nxt = _poll_one(listener)
        assert isinstance(nxt, RpcIncomingMessage)
        nxt.acknowledge()
        nxt.reply(Reply(result="fresh"))

    thread = threading.Thread(target=late_server)
    thread.start()
    with pytest.raises(MessagingTimeout):
        transport.call(Target(topic="t"), {}, _req("slow"), timeout=0.3)
    gave_up.set()
    assert transport.call(Target(topic="t"), {}, _req("next"), timeout=5).result == "fresh"
    thread.join(5)


def test_call_monitor_heartbeats_keep_a_call_alive(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    finished = threading.Event()

    def slow_server() -> None:
        msg = _poll_one(listener)
        assert isinstance(msg, RpcIncomingMessage)
        assert msg.client_timeout == 0.3
        msg.acknowledge()
        for _ in range(8):  # 0.8 s of work, a heartbeat every 0.1 s
            finished.wait(0.1)
            msg.heartbeat()
        msg.reply(Reply(result="done"))

    thread = threading.Thread(target=slow_server)
    thread.start()
    start = time.monotonic()
    reply = transport.call(Target(topic="t"), {}, _req("slow"), timeout=10,
                           call_monitor_timeout=0.3)
    thread.join(5)
    assert reply.result == "done"
    assert time.monotonic() - start >= 0.7  # outlived call_monitor_timeout thanks to heartbeats


def test_call_monitor_fails_without_heartbeats(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    start = time.monotonic()
    with pytest.raises(MessagingTimeout) as info:
        transport.call(Target(topic="t"), {}, _req("stuck"), timeout=30,
                       call_monitor_timeout=0.3)
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 5, elapsed
    assert "heartbeat" in str(info.value)
    listener.cleanup()


def test_heartbeats_do_not_extend_the_overall_timeout(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    stop = threading.Event()

    def beating_server() -> None:
        msg = _poll_one(listener)
        assert isinstance(msg, RpcIncomingMessage)
        msg.acknowledge()
        while not stop.wait(0.05):
            msg.heartbeat()

    thread = threading.Thread(target=beating_server)
    thread.start()
    start = time.monotonic()
    try:
        with pytest.raises(MessagingTimeout):
            transport.call(Target(topic="t"), {}, _req("forever"), timeout=0.8,
                           call_monitor_timeout=0.2)
    finally:
        stop.set()
        thread.join(5)
    elapsed = time.monotonic() - start
    assert 0.75 <= elapsed < 5, elapsed


def test_requeued_request_is_redelivered_first(transport: Transport) -> None:
    a = transport.listen(Target(topic="t", server="a"))
    transport.cast(Target(topic="t"), {}, _req("first"))
    transport.cast(Target(topic="t"), {}, _req("second"))
    msg = _poll_one(a)
    assert msg.message["method"] == "first"
    a.stop()  # "second", given to a but not taken, goes back to the queue
    msg.requeue()  # back at the head, before "second"
    msg.acknowledge()  # the first settlement wins: this does nothing
    b = transport.listen(Target(topic="t", server="b"))
    again = _poll_one(b)
    assert again.message["method"] == "first"
    again.acknowledge()
    assert _poll_one(b).message["method"] == "second"
    a.cleanup()
    b.cleanup()


def test_a_requeued_request_goes_to_the_next_server(transport: Transport) -> None:
    a = transport.listen(Target(topic="t", server="a"))
    b = transport.listen(Target(topic="t", server="b"))
    transport.cast(Target(topic="t"), {}, _req("first"))
    msg = _poll_one(a)
    msg.requeue()  # round-robin: b's turn
    assert _poll_one(b).message["method"] == "first"
    a.cleanup()
    b.cleanup()


def test_cast_to_unknown_topic_is_dropped_but_known_queue_keeps_messages(
        transport: Transport) -> None:
    transport.cast(Target(topic="nobody"), {}, _req("lost"))
    first = transport.listen(Target(topic="t", server="s1"))
    first.cleanup()  # the topic queue outlives its consumer (not auto-delete)
    transport.cast(Target(topic="t"), {}, _req("kept"))
    transport.cast(Target(topic="t", server="s1"), {}, _req("kept_for_s1"))
    later = transport.listen(Target(topic="t", server="s1"))
    nobody = transport.listen(Target(topic="nobody", server="s1"))
    got = later.poll(timeout=5, max_messages=10)
    while len(got) < 2:
        more = later.poll(timeout=5, max_messages=10)
        assert more
        got += more
    assert sorted(m.message["method"] for m in got) == ["kept", "kept_for_s1"]
    assert nobody.poll(timeout=0) == []


@pytest.mark.parametrize("send", ["call", "cast"])
def test_non_json_argument_fails_instead_of_passing(transport: Transport, send: str) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    with pytest.raises(SerializationError):
        if send == "call":
            transport.call(Target(topic="t"), {}, _req("m", thing=object()), timeout=1)
        else:
            transport.cast(Target(topic="t"), {}, _req("m", thing=object()))
    with pytest.raises(TypeError):  # the driver itself raises the encoder's error
        transport.driver.cast(Target(topic="t"), {"ctx": object()}, _req("m"))
    assert listener.poll(timeout=0) == []


def test_oslo_wire_request_is_understood(transport: Transport) -> None:
    """A request exactly as oslo.messaging puts it on RabbitMQ."""
    listener = transport.listen(Target(topic="t", server="s1"))
    inner = {"method": "add", "args": {"a": 1, "b": [1, "x"]}, "namespace": "ns1",
             "version": "1.3", "_msg_id": "cc40cf69c6a74c31b1694c12928e6200",
             "_reply_q": "reply_5891f2a10ff94a3d8169d6091ab89d1b", "_timeout": 10,
             "_unique_id": "22893367d1364a3caaf9ae968c3a1471", "_context_user": "alice",
             "_context_request_id": "req-1"}
    body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)}).encode()
    hooks = transport.driver.testing
    assert hooks is not None
    hooks.publish_raw(Target(topic="t", server="s1"), body)
    msg = _poll_one(listener)
    assert isinstance(msg, RpcIncomingMessage)
    assert msg.ctxt == {"user": "alice", "request_id": "req-1"}
    assert msg.message == {"method": "add", "args": {"a": 1, "b": [1, "x"]},
                           "namespace": "ns1", "version": "1.3"}
    assert msg.wants_reply and msg.client_timeout == 10
    msg.reply(Reply(result=2))  # its reply queue does not exist here: dropped, no error


def test_stop_unblocks_a_poll_in_another_thread(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    result: list[list[IncomingMessage]] = []
    polling = threading.Event()

    def poll() -> None:
        polling.set()
        result.append(listener.poll(timeout=None))

    thread = threading.Thread(target=poll)
    thread.start()
    assert polling.wait(5)
    listener.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert result == [[]]
    start = time.monotonic()
    assert listener.poll(timeout=10) == []  # stopped: returns at once
    assert time.monotonic() - start < 1
    transport.cast(Target(topic="t"), {}, _req("kept"))
    listener.cleanup()
    other = transport.listen(Target(topic="t", server="s2"))
    assert _poll_one(other).message["method"] == "kept"


def test_poll_returns_empty_after_timeout(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    start = time.monotonic()
    assert listener.poll(timeout=0.2) == []
    assert 0.15 <= time.monotonic() - start < 5


def test_poll_max_messages_batches_in_order(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    for i in range(5):
        transport.cast(Target(topic="t"), {}, _req("m", i=i))
    got = listener.poll(timeout=5, max_messages=3)
    assert [m.message["args"]["i"] for m in got] == [0, 1, 2]
    got = listener.poll(timeout=5, max_messages=3)
    assert [m.message["args"]["i"] for m in got] == [3, 4]


def test_reply_that_cannot_be_encoded_becomes_a_failure(transport: Transport) -> None:
    listener = transport.listen(Target(topic="t", server="s1"))
    replied = threading.Event()

    def server() -> None:
        msg = _poll_one(listener)
        assert isinstance(msg, RpcIncomingMessage)
        msg.acknowledge()
        msg.reply(Reply(result=object()))  # does not raise in the server...
        replied.set()

    thread = threading.Thread(target=server)
    thread.start()
    # ...and the caller learns why at once instead of waiting for its timeout
    reply = transport.call(Target(topic="t"), {}, _req("bad_result"), timeout=10)
    thread.join(5)
    assert replied.is_set()
    assert reply.failure is not None and reply.failure["class"] == "TypeError"
    assert "not JSON serializable" in reply.failure["message"]
