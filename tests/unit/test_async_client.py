"""AsyncRPCClient: same options and checks as RPCClient, awaits the driver's futures."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import pytest

import messaging
from messaging.aio import await_future
from messaging.rpc.async_client import _AsyncCallContext
from messaging.rpc.client import _CallContext
from messaging.testing.async_helpers import async_wait_for


class Held:
    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.arrived = 0

    async def held(self, ctxt):
        self.arrived += 1
        await self.gate.wait()
        return "late"


def test_prepare_returns_an_async_client_with_the_changes(transport):
    client = messaging.get_async_rpc_client(transport, messaging.Target(topic="t"), timeout=3)
    prepared = client.prepare(server="s", namespace="n", timeout=9, retry=2)
    assert isinstance(prepared, _AsyncCallContext)
    assert prepared.target == messaging.Target(topic="t", server="s", namespace="n")
    assert (prepared.timeout, prepared.retry) == (9, 2)
    assert client.target == messaging.Target(topic="t") and client.timeout == 3
    sync = messaging.get_rpc_client(transport, messaging.Target(topic="t")).prepare(server="s")
    assert isinstance(sync, _CallContext) and not isinstance(sync, _AsyncCallContext)


def test_get_async_rpc_client_builds_the_class_asked_for(transport):
    class Mine(messaging.AsyncRPCClient):
        pass

    client = messaging.get_async_rpc_client(transport, messaging.Target(topic="t"),
                                            client_cls=Mine, version_cap="1.2")
    assert type(client) is Mine and client.version_cap == "1.2"


def test_checks_are_the_sync_clients(transport):
    capped = messaging.AsyncRPCClient(transport, messaging.Target(topic="t", version="1.6"),
                                      version_cap="1.5")
    fanout = messaging.AsyncRPCClient(transport, messaging.Target(topic="t", fanout=True))
    nowhere = messaging.AsyncRPCClient(transport, messaging.Target())

    async def scenario():
        with pytest.raises(messaging.RPCVersionCapError):
            await capped.cast({}, "m")
        with pytest.raises(messaging.InvalidTarget):
            await fanout.call({}, "m")
        with pytest.raises(messaging.InvalidTarget):
            await nowhere.cast({}, "m")
        with pytest.raises(messaging.SerializationError):
            await messaging.AsyncRPCClient(transport, messaging.Target(topic="t")).cast(
                {}, "m", value=object())
    asyncio.run(scenario())
    with pytest.raises(messaging.MessagingException, match="major and minor"):
        capped.prepare(version="2")


def test_default_timeout_comes_from_conf():
    async def scenario():
        with messaging.get_transport({"rpc_response_timeout": 0.2}, "fake://") as t:
            with pytest.raises(messaging.MessagingTimeout):
                await messaging.AsyncRPCClient(t, messaging.Target(topic="nobody")).call({}, "m")
    asyncio.run(scenario())


def test_cancelling_a_call_frees_its_correlation_entry(transport):
    endpoint = Held()
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                      [endpoint], executor="asyncio")
    client = messaging.get_async_rpc_client(transport, messaging.Target(topic="t"), timeout=30)

    async def scenario():
        async with server:
            task = asyncio.ensure_future(client.call({}, "held"))
            await async_wait_for(lambda: endpoint.arrived, message="the call")
            correlator = transport.driver._reply_queue.correlator
            assert len(correlator) == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert len(correlator) == 0
            endpoint.gate.set()
    asyncio.run(scenario())


def test_await_future_returns_the_result_or_raises_the_error():
    async def scenario():
        done: concurrent.futures.Future[int] = concurrent.futures.Future()
        done.set_result(7)
        assert await await_future(done, None, "x") == 7
        later: concurrent.futures.Future[int] = concurrent.futures.Future()
        asyncio.get_running_loop().call_later(0.01, later.set_exception,
                                              messaging.MessageDeliveryFailure("no"))
        with pytest.raises(messaging.MessageDeliveryFailure):
            await await_future(later, None, "x")
    asyncio.run(scenario())


def test_a_future_the_driver_cancels_is_a_timeout_not_our_cancellation():
    async def scenario():
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        asyncio.get_running_loop().call_later(0.01, future.cancel)
        with pytest.raises(messaging.MessagingTimeout, match="cancelled"):
            await await_future(future, None, "reply overdue")
    asyncio.run(scenario())


def test_a_future_that_never_ends_is_cancelled_at_the_guard():
    async def scenario():
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        began = time.monotonic()
        with pytest.raises(messaging.MessagingTimeout, match="reply overdue"):
            await await_future(future, 0.1, "reply overdue")
        assert time.monotonic() - began < 5
        assert future.cancelled()
    asyncio.run(scenario())


def test_cancelling_the_awaiting_task_cancels_the_future():
    async def scenario():
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        task = asyncio.ensure_future(await_future(future, None, "x"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert future.cancelled()
    asyncio.run(scenario())


def test_a_send_awaited_with_cancel_false_goes_on_when_the_task_is_cancelled():
    async def scenario():
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        task = asyncio.ensure_future(await_future(future, None, "x", cancel=False))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not future.cancelled()
        future.set_result(1)  # the driver completes it later: nobody is woken, nothing fails
    asyncio.run(scenario())


def test_exported_from_the_package():
    assert {"AsyncRPCClient", "get_async_rpc_client", "AsyncNotifier"} <= set(messaging.__all__)


def test_a_burst_of_completions_from_another_thread_wakes_every_awaiter_once():
    async def scenario():
        loop = asyncio.get_running_loop()
        futures = [concurrent.futures.Future() for _ in range(200)]
        wakeups = []
        original = loop.call_soon_threadsafe

        def counting(*args, **kwargs):
            wakeups.append(args[0])
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        awaiting = asyncio.gather(*(await_future(f, None, "x") for f in futures))
        await asyncio.sleep(0)  # every awaiter is waiting now

        def burst():
            for n, future in enumerate(futures):
                future.set_result(n)

        await asyncio.to_thread(burst)
        assert await awaiting == list(range(200))
        assert 1 <= len(wakeups) < len(futures) / 2  # batched, not one wake-up each
    asyncio.run(scenario())
