"""Kit (async API): cancelling the task awaiting a call abandons the call cleanly."""

from __future__ import annotations

import asyncio

import pytest

import messaging
from messaging.testing.async_helpers import Gated, async_wait_for


def _served(transport, topic):
    """A gated endpoint, an asyncio server for it and a client with a long timeout."""
    endpoint = Gated()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [endpoint], executor="asyncio")
    client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                            timeout=30)
    return endpoint, server, client


def test_cancelled_call_raises_cancelled_and_its_late_reply_is_ignored(transport, topic):
    async def scenario():
        endpoint, server, client = _served(transport, topic)
        async with server:
            task = asyncio.ensure_future(client.call({}, "held", n=1))
            await async_wait_for(lambda: endpoint.arrived, message="the call to arrive")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            endpoint.gate.set()  # the server answers the abandoned call now
            await async_wait_for(lambda: endpoint.finished, message="the endpoint to finish")
            # later calls get their own replies, never the abandoned one's
            assert [await client.call({}, "echo", value=i) for i in range(5)] == list(range(5))
    asyncio.run(scenario())


def test_wait_for_timeout_cancels_the_call(transport, topic):
    async def scenario():
        endpoint, server, client = _served(transport, topic)
        async with server:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.call({}, "held", n=1), 0.5)
            endpoint.gate.set()
            assert await client.call({}, "echo", value="next") == "next"
    asyncio.run(scenario())


def test_cancelling_some_calls_leaves_the_others_answered(transport, topic):
    async def scenario():
        endpoint, server, client = _served(transport, topic)
        async with server:
            tasks = [asyncio.ensure_future(client.call({}, "held", n=n)) for n in range(6)]
            await async_wait_for(lambda: len(endpoint.arrived) == 6, message="six calls")
            for task in tasks[::2]:
                task.cancel()
            endpoint.gate.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        assert [isinstance(r, asyncio.CancelledError) for r in results] == [True, False] * 3
        assert results[1::2] == [1, 3, 5]
    asyncio.run(scenario())
