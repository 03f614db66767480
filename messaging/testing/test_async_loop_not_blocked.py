"""Kit (async API): nothing the library does blocks the application's event loop.

The loop runs in asyncio debug mode with a small slow-callback threshold
(:data:`messaging.testing.async_helpers.SLOW_CALLBACK`) while a whole
session runs on it: servers and a listener started and stopped from async
code, sync and async endpoints, calls, casts, a cancelled call, a timed-out
call, notifications at every priority and a requeue. Any callback that held
the loop longer fails the test, naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading

import pytest

import messaging
from messaging.testing.async_helpers import async_wait_for, watch_loop
from messaging.testing.helpers import Recorder

WAIT = 30.0
PRIORITIES = ["audit", "debug", "info", "warn", "warning", "error", "critical", "sample"]


class Service:
    def __init__(self) -> None:
        self.casts = Recorder()
        self.gate = asyncio.Event()

    async def echo(self, ctxt, value):
        return value

    def sync_echo(self, ctxt, value):
        threading.Event().wait(0.1)  # sync endpoint code may block: it runs off the loop
        return value

    async def sink(self, ctxt, value):
        self.casts.add(value)

    async def held(self, ctxt):
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


async def _session(transport, notification_transport, topic):
    service, listener_endpoint = Service(), Listener()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [service], executor="asyncio")
    allow_requeue = notification_transport.capabilities.requeue
    listener = messaging.get_notification_listener(
        notification_transport, [messaging.Target(topic=f"{topic}_n")], [listener_endpoint],
        executor="asyncio", allow_requeue=allow_requeue)
    client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic),
                                            timeout=WAIT)
    notifier = messaging.AsyncNotifier(notification_transport, "kit.loop",
                                       driver="messagingv2", topics=[f"{topic}_n"])
    async with server, listener:
        values = list(range(50))
        assert await asyncio.gather(*(client.call({}, "echo", value=v) for v in values),
                                    *(client.call({}, "sync_echo", value=v) for v in values)
                                    ) == values + values
        await asyncio.gather(*(client.cast({}, "sink", value=v) for v in values))
        with pytest.raises(ValueError):
            await client.call({}, "fail")
        held = asyncio.ensure_future(client.call({}, "held"))
        await asyncio.sleep(0.1)
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        with pytest.raises(messaging.MessagingTimeout):
            await client.prepare(timeout=0.5).call({}, "held")
        service.gate.set()
        await asyncio.gather(*(getattr(notifier, p)({}, f"kit.{p}", {}) for p in PRIORITIES))
        if allow_requeue:
            await notifier.info({}, "kit.requeue", {})
        await async_wait_for(lambda: len(service.casts.items) >= len(values), WAIT,
                             message="every cast")
        expected = len(PRIORITIES) + (1 if allow_requeue else 0)
        await async_wait_for(lambda: len(listener_endpoint.seen.items) >= expected, WAIT,
                             message="every notification")


async def _warm_up(transport, notification_transport, topic):
    """Use each transport's future verbs once, before watching.

    A driver without native futures runs its sync verbs on a thread pool of
    the driver base class, whose threads start on its first use (once per
    transport); that one-time start is not what this test is about. Nobody
    listens, so a brokerless driver may refuse the cast: that is fine here.
    """
    with contextlib.suppress(messaging.MessagingException):
        await messaging.get_async_rpc_client(transport, messaging.Target(
            topic=f"{topic}_warm")).cast({}, "nothing")
    await messaging.AsyncNotifier(notification_transport, "kit.loop", driver="messagingv2",
                                  topics=[f"{topic}_warm"]).info({}, "kit.warm", {})


def _site(report: str) -> str:
    """Where a slow callback ran, without its duration, addresses and task numbers."""
    text = report.split(" took ", 1)[0]
    text = re.sub(r"0x[0-9a-f]+", "", text)
    return re.sub(r"Task-\d+", "Task", text)


def test_a_whole_session_never_blocks_the_loop(transport, notification_transport, topic):
    """A blocking call shows up wherever its code runs, every session; a machine too busy to
    schedule the loop's thread for a moment shows up once, somewhere. So a slow callback
    seen in one session fails the test only if the same place is slow in a second one."""
    async def scenario(n: int) -> list[str]:
        await _warm_up(transport, notification_transport, f"{topic}_{n}")
        with watch_loop(asyncio.get_running_loop()) as watch:
            await _session(transport, notification_transport, f"{topic}_{n}")
        return watch.slow

    first = asyncio.run(scenario(1))
    if not first:
        return
    second = asyncio.run(scenario(2))
    again = {_site(r) for r in first} & {_site(r) for r in second}
    assert not again, "callbacks blocked the event loop in both sessions:\n" + "\n".join(
        r for r in first + second if _site(r) in again)
