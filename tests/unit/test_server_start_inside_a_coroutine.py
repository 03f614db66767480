"""server.start() called inside a coroutine subscribes off the loop and returns a task."""

from __future__ import annotations

import asyncio
import logging

import pytest

import messaging


class Echo:
    async def echo(self, ctxt, value):
        return value

    def sync_echo(self, ctxt, value):
        return value


def _server(transport, executor: str = "asyncio", server: str | None = "s1"):
    return messaging.get_rpc_server(transport, messaging.Target(topic="t", server=server),
                                    [Echo()], executor=executor)


@pytest.mark.parametrize("executor", ["asyncio", "threading"])
def test_start_returns_a_task_that_ends_once_serving(transport, executor):
    server = _server(transport, executor)
    client = messaging.get_async_rpc_client(transport, messaging.Target(topic="t"), timeout=10)

    async def scenario():
        started = server.start()
        assert isinstance(started, asyncio.Task)
        await started
        assert server.running
        method = "echo" if executor == "asyncio" else "sync_echo"
        assert await client.call({}, method, value=3) == 3
        await server.astop()

    asyncio.run(scenario())
    assert not server.running


@pytest.mark.parametrize("stop_first", [True, False], ids=["stop", "astop"])
def test_a_stop_made_before_the_start_finished_takes_effect_after_it(transport, stop_first):
    server = _server(transport)

    async def scenario():
        started = server.start()
        if stop_first:
            server.stop()  # before the worker thread subscribed: must not be lost
            await started
        await server.astop()  # right after start(): waits for it, then stops

    asyncio.run(scenario())
    assert not server.running and not server.consuming


def test_a_refused_subscription_is_raised_by_the_task_and_logged(transport, caplog):
    server = _server(transport, server=None)  # a server's target needs a server name

    async def scenario():
        with caplog.at_level(logging.ERROR, logger="messaging.server"):
            with pytest.raises(messaging.InvalidTarget):
                await server.start()
            await asyncio.sleep(0)  # the task's done callbacks run

    asyncio.run(scenario())
    assert not server.running
    assert any("could not start" in r.getMessage() for r in caplog.records)


def test_start_from_sync_code_returns_none_and_serves(transport):
    server = _server(transport, "threading")
    assert server.start() is None
    try:
        assert server.running
    finally:
        server.stop()
        server.wait()
