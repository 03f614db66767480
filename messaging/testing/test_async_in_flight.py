"""Kit (async API): many calls, casts and notifications in flight from one loop."""

from __future__ import annotations

import asyncio
import time
import uuid

import messaging
from messaging.testing.async_helpers import async_wait_for
from messaging.testing.helpers import Recorder

IN_FLIGHT = 100
WAIT = 30.0


class Echo:
    def __init__(self) -> None:
        self.casts = Recorder()

    async def echo(self, ctxt, value):
        await asyncio.sleep(0.001)
        return value

    async def sink(self, ctxt, value):
        self.casts.add(value)


def test_hundred_calls_in_flight_each_get_their_own_reply(transport, topic):
    async def scenario():
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                          [Echo()], executor="asyncio")
        client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                                timeout=WAIT)
        async with server:
            values = [{"n": n, "tag": uuid.uuid4().hex} for n in range(IN_FLIGHT)]
            results = await asyncio.gather(*(client.call({}, "echo", value=v) for v in values))
        assert results == values
    asyncio.run(scenario())


def test_hundred_casts_in_flight_are_each_delivered_once(transport, topic):
    async def scenario():
        endpoint = Echo()
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                          [endpoint], executor="asyncio")
        client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic))
        async with server:
            await asyncio.gather(*(client.cast({}, "sink", value=n) for n in range(IN_FLIGHT)))
            await async_wait_for(lambda: len(endpoint.casts.items) >= IN_FLIGHT, WAIT,
                                 message="every cast")
        assert sorted(endpoint.casts.items) == list(range(IN_FLIGHT))
    asyncio.run(scenario())


def test_calls_in_flight_to_nobody_all_time_out_within_their_timeout(transport, topic):
    async def scenario():
        client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                                timeout=1)
        began = time.monotonic()
        results = await asyncio.gather(*(client.call({}, "nobody", n=n) for n in range(50)),
                                       return_exceptions=True)
        elapsed = time.monotonic() - began
        assert all(isinstance(r, messaging.MessagingTimeout) for r in results), results[:3]
        assert elapsed < 1 + 10, elapsed
    asyncio.run(scenario())


def test_hundred_notifications_in_flight_are_each_delivered(notification_transport, topic):
    async def scenario():
        seen = Recorder()

        class Info:
            async def info(self, ctxt, publisher_id, event_type, payload, metadata):
                seen.add(payload["n"])

        listener = messaging.get_notification_listener(
            notification_transport, [messaging.Target(topic=topic)], [Info()],
            executor="asyncio")
        notifier = messaging.AsyncNotifier(notification_transport, "kit.async",
                                           driver="messagingv2", topics=[topic])
        async with listener:
            await asyncio.gather(*(notifier.info({}, "kit.many", {"n": n})
                                   for n in range(IN_FLIGHT)))
            await async_wait_for(lambda: len(seen.items) >= IN_FLIGHT, WAIT,
                                 message="every notification")
        assert sorted(seen.items) == list(range(IN_FLIGHT))
    asyncio.run(scenario())
