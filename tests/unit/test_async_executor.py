"""The asyncio executor: coroutines on a loop (given or its own), the rest on its pool."""

from __future__ import annotations

import asyncio
import threading

import pytest

from messaging.executors import AsyncioExecutor, load_executor


async def where():
    return threading.get_ident(), asyncio.get_running_loop()


def test_loads_by_name_with_its_pool_size():
    ex = load_executor("asyncio", 3)
    try:
        assert isinstance(ex, AsyncioExecutor) and ex._max_workers == 3
    finally:
        ex.shutdown()


def test_without_a_loop_it_owns_one_in_a_thread_and_closes_it_at_shutdown():
    ex = AsyncioExecutor(2)
    thread_id, loop = ex.submit(where).result(5)
    assert thread_id != threading.get_ident()
    ex.shutdown(wait=True)
    assert loop.is_closed()


def test_plain_functions_run_on_the_pool():
    ex = AsyncioExecutor(2)
    try:
        assert ex.submit(threading.current_thread).result(5).name.startswith(
            "messaging-worker")
    finally:
        ex.shutdown()


def test_a_given_loop_runs_the_coroutines_and_stays_open():
    async def scenario():
        loop = asyncio.get_running_loop()
        ex = AsyncioExecutor(2)
        ex.use_loop(loop)
        future = ex.submit(where)
        thread_id, ran_on = await asyncio.wrap_future(future)
        assert (thread_id, ran_on) == (threading.get_ident(), loop)
        assert await ex.run_blocking(threading.get_ident) != threading.get_ident()
        await asyncio.to_thread(ex.shutdown)
        assert not loop.is_closed()
    asyncio.run(scenario())


def test_shutdown_waits_for_coroutines_in_flight():
    ex = AsyncioExecutor(2)
    release = threading.Event()
    done = []

    async def work():
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        done.append(True)

    ex.submit(work)
    stopper = threading.Thread(target=ex.shutdown)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive(), "shutdown(wait=True) returned with a coroutine running"
    release.set()
    stopper.join(10)
    assert done == [True]


def test_waiting_shutdown_from_its_own_loop_is_refused():
    async def scenario():
        ex = AsyncioExecutor(2)
        ex.use_loop(asyncio.get_running_loop())
        gate = asyncio.Event()

        async def held():
            await gate.wait()

        ex.submit(held)
        with pytest.raises(RuntimeError, match="astop"):
            ex.shutdown(wait=True)
        gate.set()
    asyncio.run(scenario())


def test_no_new_work_after_shutdown_and_no_coroutine_leaks():
    ex = AsyncioExecutor(2)
    ex.shutdown()
    with pytest.raises(RuntimeError):
        ex.submit(where)
    with pytest.raises(RuntimeError):
        ex.submit(print)


def test_a_closed_loop_refuses_work():
    loop = asyncio.new_event_loop()
    loop.close()
    ex = AsyncioExecutor(2)
    ex.use_loop(loop)
    with pytest.raises(RuntimeError, match="closed"):
        ex.submit(where)
    ex.shutdown()


def test_a_second_loop_is_refused():
    ex = AsyncioExecutor(1)
    ex.use_loop(None)
    try:
        with pytest.raises(RuntimeError):
            ex.use_loop(None)
    finally:
        ex.shutdown()
