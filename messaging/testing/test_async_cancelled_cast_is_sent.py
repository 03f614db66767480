"""Kit (async API): cancelling the task awaiting a cast or a notification stops the waiting only.

Once handed to the transport, a cast or a notification is sent on every
driver, whether its future is native (and might otherwise be dropped from
a backlog) or comes from the driver base class's thread pool.
"""

from __future__ import annotations

import asyncio

import messaging
from messaging.testing.async_helpers import async_wait_for
from messaging.testing.helpers import Recorder, running_server

WAIT = 30.0


class Sink:
    def __init__(self) -> None:
        self.seen = Recorder()

    def sink(self, ctxt, value):
        self.seen.add(value)

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.seen.add(payload["value"])


async def _cancel_each_once_submitted(sends) -> None:
    """Start every send, let each reach the transport, then cancel the ones still waiting."""
    tasks = [asyncio.ensure_future(send) for send in sends]
    await asyncio.sleep(0)  # each task ran up to its first await: handed to the transport
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_cancelled_casts_are_delivered(transport, topic):
    sink = Sink()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [sink])
    client = messaging.get_async_rpc_client(transport, messaging.Target(topic=topic))
    values = list(range(20))
    with running_server(server):
        asyncio.run(_cancel_each_once_submitted(client.cast({}, "sink", value=v)
                                                for v in values))
        sink.seen.wait_count(len(values), WAIT)
    assert sorted(sink.seen.items) == values


def test_cancelled_notifications_are_delivered(notification_transport, topic):
    sink = Sink()
    listener = messaging.get_notification_listener(
        notification_transport, [messaging.Target(topic=topic)], [sink])
    notifier = messaging.AsyncNotifier(notification_transport, "kit.cancel",
                                       driver="messagingv2", topics=[topic])
    values = list(range(20))

    async def scenario() -> None:
        await _cancel_each_once_submitted(notifier.info({}, "kit.cancel", {"value": v})
                                          for v in values)
        await async_wait_for(lambda: len(sink.seen.items) >= len(values), WAIT,
                             message="every notification")

    with running_server(listener):
        asyncio.run(scenario())
    assert sorted(sink.seen.items) == values
