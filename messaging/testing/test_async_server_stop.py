"""Kit (async API): stopping an ``asyncio`` server with calls in flight lets them finish."""

from __future__ import annotations

import asyncio
import threading

import pytest

import messaging
from messaging.testing.async_helpers import Gated, async_wait_for
from messaging.testing.helpers import wait_for

WAIT = 20.0


class ThreadGated(Gated):
    def __init__(self) -> None:
        super().__init__()
        self.thread_gate = threading.Event()

    async def held_by_thread(self, ctxt, n):
        """Gated from another thread (the server owns the loop this runs on)."""
        self.arrived.append(n)
        await asyncio.get_running_loop().run_in_executor(None, self.thread_gate.wait, WAIT)
        return n


def _server(transport, topic, endpoint):
    return messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                    [endpoint], executor="asyncio")


def test_astop_waits_for_calls_in_flight_and_they_get_their_replies(transport, topic):
    async def scenario():
        endpoint = Gated()
        server = _server(transport, topic, endpoint)
        client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                                timeout=WAIT)
        await server.astart()
        calls = [asyncio.ensure_future(client.call({}, "held", n=n)) for n in range(5)]
        await async_wait_for(lambda: len(endpoint.arrived) == 5, message="five calls")
        stopping = asyncio.ensure_future(server.astop())
        await asyncio.sleep(0.3)
        assert not stopping.done(), "astop() returned while calls were still running"
        assert not server.running
        endpoint.gate.set()
        assert await asyncio.gather(*calls) == list(range(5))
        await asyncio.wait_for(stopping, WAIT)
    asyncio.run(scenario())


def test_stopped_server_takes_no_new_calls(transport, topic):
    async def scenario():
        endpoint = Gated()
        client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                                timeout=WAIT)
        async with _server(transport, topic, endpoint):
            assert await client.call({}, "echo", value=1) == 1
        with pytest.raises(messaging.MessagingTimeout):
            await client.prepare(timeout=1).call({}, "echo", value=2)
    asyncio.run(scenario())


def test_sync_stop_and_wait_with_calls_in_flight_on_the_servers_own_loop(transport, topic):
    endpoint = ThreadGated()
    server = _server(transport, topic, endpoint)
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=WAIT)
    results: list[int] = []
    callers = [threading.Thread(target=lambda n=n: results.append(
        client.call({}, "held_by_thread", n=n)), daemon=True) for n in range(3)]
    for caller in callers:
        caller.start()
    try:
        wait_for(lambda: len(endpoint.arrived) == 3, timeout=WAIT, message="three calls")
        server.stop()
        waiter = threading.Thread(target=server.wait, daemon=True)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive(), "wait() returned while calls were still running"
    finally:
        endpoint.thread_gate.set()
    waiter.join(WAIT)
    assert not waiter.is_alive()
    for caller in callers:
        caller.join(WAIT)
    assert sorted(results) == [0, 1, 2]


def test_wait_on_the_servers_own_loop_is_refused(transport, topic):
    async def scenario():
        server = _server(transport, topic, Gated())
        async with server:
            with pytest.raises(RuntimeError, match="astop"):
                server.wait()
    asyncio.run(scenario())


def test_server_runs_at_most_pool_size_coroutines_at_once(transport, topic):
    """Back-pressure: the server takes no more messages than it has slots."""
    async def scenario():
        active = [0]
        peak = [0]
        gate = asyncio.Event()

        class Counted:
            async def work(self, ctxt, n):
                active[0] += 1
                peak[0] = max(peak[0], active[0])
                await gate.wait()
                active[0] -= 1
                return n

        server = _server(transport, topic, Counted())
        client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                                timeout=WAIT)
        await server.astart(override_pool_size=3)
        try:
            calls = [asyncio.ensure_future(client.call({}, "work", n=n)) for n in range(10)]
            await async_wait_for(lambda: active[0] == 3, message="three running")
            await asyncio.sleep(0.3)  # room for a server without back-pressure to take more
            assert peak[0] == 3
            gate.set()
            assert await asyncio.gather(*calls) == list(range(10))
            assert peak[0] == 3
        finally:
            await server.astop()
    asyncio.run(scenario())
