"""Dispatch steps: one generator, run in the calling thread or awaited on a loop."""

from __future__ import annotations

import asyncio
import functools
import threading
import warnings

import pytest

from messaging.steps import Step, is_async_callable, run_steps, run_steps_async


async def coro_add(a, b):
    return a + b


def sync_add(a, b):
    return a + b


def fail(message):
    raise ValueError(message)


def plan(fn):
    """Call ``fn(1, 2)``, then ``fail('x')``; return what happened to each."""
    seen = []
    try:
        seen.append((yield Step(fn, 1, 2)))
    except Exception as exc:
        seen.append(exc)
    try:
        yield Step(fail, "x")
    except ValueError as exc:
        seen.append(str(exc))
    return seen


async def run_blocking(fn, *args, **kwargs):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


def test_sync_runner_sends_results_and_throws_exceptions():
    assert run_steps(plan(sync_add)) == [3, "x"]


def test_async_runner_gives_the_same_outcome_for_sync_and_async_callables():
    assert asyncio.run(run_steps_async(plan(sync_add), run_blocking)) == [3, "x"]
    assert asyncio.run(run_steps_async(plan(coro_add), run_blocking)) == [3, "x"]


def test_sync_runner_refuses_a_coroutine_function_naming_the_asyncio_executor():
    [error, _] = run_steps(plan(coro_add))
    assert isinstance(error, TypeError)
    assert "coro_add" in str(error) and "executor='asyncio'" in str(error)


def test_sync_runner_refuses_a_coroutine_behind_a_plain_wrapper_without_leaking_it():
    def wrapper(a, b):
        return coro_add(a, b)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        [error, _] = run_steps(plan(wrapper))
    assert isinstance(error, TypeError) and "executor='asyncio'" in str(error)


def test_async_runner_awaits_coroutines_on_the_loop_and_runs_the_rest_off_it():
    threads = {}

    def where_sync():
        threads["sync"] = threading.get_ident()

    async def where_async():
        threads["async"] = threading.get_ident()

    def steps():
        yield Step(where_sync)
        yield Step(where_async)

    asyncio.run(run_steps_async(steps(), run_blocking))
    assert threads["async"] == threading.get_ident()
    assert threads["sync"] != threading.get_ident()


def test_async_runner_awaits_an_awaitable_a_sync_callable_returns():
    def wrapper(a, b):
        return coro_add(a, b)

    assert asyncio.run(run_steps_async(plan(wrapper), run_blocking)) == [3, "x"]


def test_cancelling_the_async_runner_closes_the_generator():
    cleaned = threading.Event()
    entered: list[bool] = []

    async def forever():
        entered.append(True)
        await asyncio.Event().wait()

    def steps():
        try:
            yield Step(forever)
        finally:
            cleaned.set()

    async def scenario():
        task = asyncio.ensure_future(run_steps_async(steps(), run_blocking))
        while not entered:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert cleaned.is_set()


def test_is_async_callable():
    class AsyncCall:
        async def __call__(self):
            return 1

    class Endpoint:
        async def method(self, ctxt):
            return 1

        def plain(self, ctxt):
            return 1

    assert is_async_callable(coro_add) and is_async_callable(AsyncCall())
    assert is_async_callable(Endpoint().method)
    assert not is_async_callable(sync_add) and not is_async_callable(Endpoint().plain)
