"""Dispatchers under the asyncio executor, and async endpoints under the others."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

import messaging
from messaging.notify import NotificationResult
from messaging.server import Dispatcher, MessageHandlingServer
from messaging.testing.async_helpers import async_wait_for
from messaging.testing.helpers import Recorder, running_server, wait_for


class AsyncOnly:
    async def ping(self, ctxt):
        return "pong"

    @messaging.expected_exceptions(ValueError)
    async def declared(self, ctxt):
        raise ValueError("on purpose")


@pytest.mark.parametrize("executor", ["threading", "blocking"])
def test_sync_executors_refuse_async_endpoints_with_a_clear_error(transport, executor):
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                      [AsyncOnly()], executor=executor)
    client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=10)
    with running_server(server):
        with pytest.raises(TypeError, match="executor='asyncio'") as info:
            client.call({}, "ping")
    assert "ping" in str(info.value)


def test_expected_exceptions_works_on_async_endpoints(transport, caplog):
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                      [AsyncOnly()], executor="asyncio")
    client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=10)
    with running_server(server), caplog.at_level(logging.DEBUG, "messaging.rpc.dispatcher"):
        with pytest.raises(ValueError, match="on purpose"):
            client.call({}, "declared")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Expected exception" in caplog.text


def test_listener_with_sync_executor_logs_an_async_endpoint(transport, caplog):
    class Info:
        async def info(self, ctxt, publisher_id, event_type, payload, metadata):
            return None

    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic="n")], [Info()], executor="threading")
    notifier = messaging.Notifier(transport, "p", driver="messagingv2", topics=["n"])
    with caplog.at_level(logging.ERROR), running_server(listener):
        notifier.info({}, "ev", {})
        wait_for(lambda: "executor='asyncio'" in caplog.text, message="the error logged")


def test_async_batch_endpoint_requeues_the_group(transport):
    batches = Recorder()
    seen_once: set[str] = set()

    class Batch:
        async def info(self, messages):
            ids = {m["metadata"]["message_id"] for m in messages}
            first = not ids <= seen_once
            seen_once.update(ids)
            batches.add(sorted(m["payload"]["n"] for m in messages))
            return NotificationResult.REQUEUE if first else NotificationResult.HANDLED

    listener = messaging.get_batch_notification_listener(
        transport, [messaging.Target(topic="n")], [Batch()], executor="asyncio",
        allow_requeue=True, batch_size=2, batch_timeout=5)
    notifier = messaging.Notifier(transport, "p", driver="messagingv2", topics=["n"])
    with running_server(listener):
        notifier.info({}, "ev", {"n": 0})
        notifier.info({}, "ev", {"n": 1})
        got = batches.wait_count(2)
    assert got[:2] == [[0, 1], [0, 1]]


def test_a_dispatcher_written_with_handle_only_runs_on_the_asyncio_pool(transport):
    threads = Recorder()

    class HandleOnly(Dispatcher):
        target = messaging.Target(topic="t", server="s")

        def listen(self, transport):
            return transport.listen(self.target)

        def handle(self, incoming):
            for message in incoming:
                message.acknowledge()
                threads.add(threading.current_thread().name)

    server = MessageHandlingServer(transport, HandleOnly(), executor="asyncio")
    client = messaging.get_async_rpc_client(transport, messaging.Target(topic="t"))

    async def scenario():
        async with server:
            await client.cast({}, "anything")
            await async_wait_for(lambda: threads.items, message="the message handled")

    asyncio.run(scenario())
    assert threads.items[0].startswith("messaging-worker")


def test_a_dispatcher_must_override_handle_or_steps():
    with pytest.raises(TypeError, match="handle or steps"):
        class Nothing(Dispatcher):
            def listen(self, transport):
                raise NotImplementedError
