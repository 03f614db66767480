"""Kit (async API): sync and ``async def`` endpoints served side by side by ``executor='asyncio'``.

``async def`` methods run on the application's loop; sync methods run on the
executor's thread pool, so a blocking sync endpoint never holds up the loop.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

import messaging
from messaging.testing.async_helpers import async_wait_for

WAIT = 20.0


class Mixed:
    def __init__(self) -> None:
        self.sync_gate = threading.Event()
        self.async_gate = asyncio.Event()
        self.blocked: list[str] = []

    def sync_thread(self, ctxt):
        return threading.get_ident()

    async def async_thread(self, ctxt):
        return threading.get_ident()

    def sync_block(self, ctxt):
        self.blocked.append("sync")
        self.sync_gate.wait(WAIT)
        return "sync done"

    async def async_block(self, ctxt):
        self.blocked.append("async")
        await self.async_gate.wait()
        return "async done"

    def sync_add(self, ctxt, a, b):
        return a + b

    async def async_add(self, ctxt, a, b):
        await asyncio.sleep(0)
        return a + b


class Other:
    target = messaging.Target(namespace="other")

    async def whoami(self, ctxt):
        return "other-async"


def _serve(transport, topic, *endpoints):
    return messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                    list(endpoints), executor="asyncio")


def _client(transport, topic):
    return messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                          timeout=WAIT)


def test_async_endpoints_run_on_the_loop_and_sync_ones_off_it(transport, topic):
    async def scenario():
        client = _client(transport, topic)
        async with _serve(transport, topic, Mixed()):
            on_async = await client.call({}, "async_thread")
            on_sync = await client.call({}, "sync_thread")
        loop_thread = threading.get_ident()  # asyncio.run's loop runs in this thread
        assert on_async == loop_thread
        assert on_sync != loop_thread
    asyncio.run(scenario())


def test_both_kinds_answer_in_one_server(transport, topic):
    async def scenario():
        client = _client(transport, topic)
        async with _serve(transport, topic, Mixed(), Other()):
            results = await asyncio.gather(
                *(client.call({}, "sync_add", a=i, b=1) for i in range(10)),
                *(client.call({}, "async_add", a=i, b=2) for i in range(10)),
                client.prepare(namespace="other").call({}, "whoami"))
        assert results == [i + 1 for i in range(10)] + [i + 2 for i in range(10)] + [
            "other-async"]
    asyncio.run(scenario())


@pytest.mark.parametrize(("blocked", "other"), [("sync", "async"), ("async", "sync")],
                         ids=["blocked-sync-endpoint", "awaiting-async-endpoint"])
def test_a_waiting_endpoint_of_one_kind_does_not_hold_up_the_other(transport, topic, blocked,
                                                                   other):
    async def scenario():
        endpoint = Mixed()
        client = _client(transport, topic)
        async with _serve(transport, topic, endpoint):
            waiting = asyncio.ensure_future(client.call({}, f"{blocked}_block"))
            await async_wait_for(lambda: endpoint.blocked == [blocked], message=blocked)
            assert await client.call({}, f"{other}_add", a=1, b=2) == 3
            assert not waiting.done()
            endpoint.sync_gate.set()
            endpoint.async_gate.set()
            assert await waiting == f"{blocked} done"
    asyncio.run(scenario())


def test_sync_code_serves_async_endpoints_on_a_loop_the_server_owns(transport, topic):
    """``start()`` from sync code: the server runs its own loop, in its own thread."""
    server = _serve(transport, topic, Mixed())
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=WAIT)
        assert client.call({}, "async_add", a=3, b=4) == 7
        assert client.call({}, "sync_add", a=3, b=5) == 8
        assert client.call({}, "async_thread") != threading.get_ident()
    finally:
        server.stop()
        server.wait()
