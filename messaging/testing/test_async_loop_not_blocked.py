"""Kit (async API): nothing the library does blocks the application's event loop.

A whole session runs on a loop watched by
:func:`messaging.testing.loop_watch.watch_loop`, from the first use of fresh
transports: servers and listeners (plain, pooled and batched) started and
stopped from async code, one with ``start()`` called inside the coroutine,
sync and async endpoints, calls, casts, ``prepare()`` d clients, a call with
a call monitor, a cancelled call, a timed-out call, notifications at every
priority and a requeue. Any wait our code (or the driver's) enters on the
loop fails the test, however short, and so does a callback that used more
than :data:`~messaging.testing.loop_watch.SLOW_CALLBACK` seconds of CPU:
neither depends on how busy the machine is, so the test needs no retry.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import messaging
from messaging.testing.async_helpers import async_wait_for
from messaging.testing.helpers import Recorder
from messaging.testing.loop_watch import packages_of, watch_loop

WAIT = 30.0
PRIORITIES = ["audit", "debug", "info", "warn", "warning", "error", "critical", "sample"]


class Service:
    def __init__(self) -> None:
        self.casts = Recorder()
        self.gate = asyncio.Event()
        self.arrived = asyncio.Event()

    async def echo(self, ctxt, value):
        return value

    def sync_echo(self, ctxt, value):
        threading.Event().wait(0.1)  # sync endpoint code may block: it runs off the loop
        return value

    async def sink(self, ctxt, value):
        self.casts.add(value)

    async def held(self, ctxt):
        self.arrived.set()
        await self.gate.wait()

    async def fail(self, ctxt):
        raise ValueError("endpoint failure")


class Listener:
    def __init__(self) -> None:
        self.seen = Recorder()
        self.requeued: set[str] = set()

    def __getattr__(self, name):
        if name not in messaging.notify.PRIORITIES:
            raise AttributeError(name)

        async def method(ctxt, publisher_id, event_type, payload, metadata):
            if event_type == "kit.requeue" and metadata["message_id"] not in self.requeued:
                self.requeued.add(metadata["message_id"])
                return messaging.NotificationResult.REQUEUE
            self.seen.add((name, event_type))
            return messaging.NotificationResult.HANDLED
        return method


class Batches:
    def __init__(self) -> None:
        self.seen = Recorder()

    async def info(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.seen.add(message["payload"]["n"])


async def _rpc(transport, topic: str) -> None:
    service = Service()
    target = messaging.Target(topic=topic, server="s1")
    server = messaging.get_rpc_server(transport, target, [service], executor="asyncio")
    other = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s2"),
                                     [service], executor="asyncio")
    client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                            timeout=WAIT)
    async with server:
        started = other.start()  # inside a coroutine: subscribes off the loop
        if started is not None:
            await started
        try:
            values = list(range(50))
            assert await asyncio.gather(
                *(client.call({}, "echo", value=v) for v in values),
                *(client.call({}, "sync_echo", value=v) for v in values)) == values + values
            await asyncio.gather(*(client.cast({}, "sink", value=v) for v in values))
            s1 = client.prepare(server="s1")
            assert await s1.call({}, "echo", value="direct") == "direct"
            await s1.cast({}, "sink", value="direct")
            await client.prepare(fanout=True).cast({}, "sink", value="everyone")
            if transport.capabilities.call_monitor:
                monitored = s1.prepare(call_monitor_timeout=WAIT)
                assert await monitored.call({}, "echo", value="monitored") == "monitored"
            try:
                await s1.call({}, "fail")
            except ValueError:
                pass
            else:
                raise AssertionError("the endpoint's ValueError did not reach the caller")
            held = asyncio.ensure_future(s1.call({}, "held"))
            await asyncio.wait_for(service.arrived.wait(), WAIT)
            held.cancel()
            try:
                await held
            except asyncio.CancelledError:
                pass
            try:
                await s1.prepare(timeout=0.5).call({}, "held")
            except messaging.MessagingTimeout:
                pass
            else:
                raise AssertionError("a call nobody answers did not time out")
            service.gate.set()
            await async_wait_for(lambda: {"direct", "everyone"} <= set(service.casts.items)
                                 and len(service.casts.items) >= len(values) + 2, WAIT,
                                 message="every cast")
        finally:
            await other.astop()


async def _notifications(transport, topic: str) -> None:
    listener_endpoint, pooled, batches = Listener(), Listener(), Batches()
    allow_requeue = transport.capabilities.requeue
    targets = [messaging.Target(topic=topic)]
    listeners = [messaging.get_notification_listener(
        transport, targets, [listener_endpoint], executor="asyncio",
        allow_requeue=allow_requeue)]
    if transport.capabilities.pools:
        listeners.append(messaging.get_notification_listener(
            transport, targets, [pooled], executor="asyncio", pool=f"{topic}_pool",
            allow_requeue=allow_requeue))
    batch_topic = [messaging.Target(topic=f"{topic}_batch")]
    listeners.append(messaging.get_batch_notification_listener(
        transport, batch_topic, [batches], executor="asyncio", batch_size=5,
        batch_timeout=0.2))
    notifier = messaging.AsyncNotifier(transport, "kit.loop", driver="messagingv2",
                                       topics=[topic])
    batch_notifier = messaging.AsyncNotifier(transport, "kit.loop", driver="messagingv2",
                                             topics=[f"{topic}_batch"]).prepare(
                                                 publisher_id="kit.batch")
    for listener in listeners:
        await listener.astart()
    try:
        await asyncio.gather(*(getattr(notifier, p)({}, f"kit.{p}", {}) for p in PRIORITIES))
        if allow_requeue:
            await notifier.info({}, "kit.requeue", {})
        await asyncio.gather(*(batch_notifier.info({}, "kit.batch", {"n": n})
                               for n in range(12)))
        expected = len(PRIORITIES) + (1 if allow_requeue else 0)
        await async_wait_for(lambda: len(listener_endpoint.seen.items) >= expected, WAIT,
                             message="every notification")
        if len(listeners) == 3:
            await async_wait_for(lambda: len(pooled.seen.items) >= expected, WAIT,
                                 message="every notification in the pool")
        await async_wait_for(lambda: sorted(batches.seen.items) == list(range(12)), WAIT,
                             message="every batched notification")
    finally:
        for listener in listeners:
            await listener.astop()


def test_a_whole_session_never_blocks_the_loop(transport, notification_transport, topic):
    packages = packages_of(transport.driver)

    async def session() -> None:
        with watch_loop(asyncio.get_running_loop(), packages=packages) as watch:
            await _rpc(transport, topic)
            await _notifications(notification_transport, f"{topic}_n")
        assert not watch.blocks, "our code blocked the event loop:\n" + watch.report()

    asyncio.run(session())
