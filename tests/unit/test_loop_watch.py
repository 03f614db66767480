"""The kit's loop watch: which waits and busy callbacks on an event loop it counts as blocks.

It must catch a block our code causes once, however short, and never count
what a busy machine or code outside our packages does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any

from messaging.driver import wait_future
from messaging.executors import StartedThreadPool
from messaging.first_use import first_use_setup
from messaging.rpc.dispatcher import _Heartbeat
from messaging.steps import Step, run_steps
from messaging.testing.loop_watch import watch_loop


def _watched(body, threshold: float = 0.05) -> list[Any]:
    """Run ``body()`` in one callback of a watched loop; the blocks seen."""
    async def scenario() -> list[Any]:
        with watch_loop(asyncio.get_running_loop(), threshold=threshold) as watch:
            await asyncio.sleep(0)  # the next step is a callback of its own
            body()
            await asyncio.sleep(0)
        return watch.blocks
    return asyncio.run(scenario())


def _one_step(fn, *args):
    """A dispatcher's steps making one call, run by our ``run_steps``."""
    def steps():
        yield Step(fn, *args)
    return run_steps(steps())


def _completed_soon() -> concurrent.futures.Future[int]:
    future: concurrent.futures.Future[int] = concurrent.futures.Future()
    threading.Timer(0.01, future.set_result, (1,)).start()
    return future


def test_a_short_wait_in_our_code_is_a_block():
    [block] = _watched(lambda: wait_future(_completed_soon(), 10, "overdue"))
    assert block.kind == "wait" and "Condition.wait" in block.what
    assert "driver.py" in block.where and "wait_future" in block.where


def test_a_sleep_in_our_code_is_a_block():
    [block] = _watched(lambda: _one_step(time.sleep, 0.001))
    assert (block.kind, block.what) == ("wait", "time.sleep")


def test_a_thread_started_for_one_call_is_a_block():
    class Message:
        client_timeout = 60

        def heartbeat(self) -> None:
            pass

    [block] = _watched(lambda: _Heartbeat(Message()).stop())
    assert block.kind == "wait" and "dispatcher.py" in block.where
    assert "_Heartbeat.__init__" in block.where or "in __init__" in block.where  # py3.10


def test_a_pool_starting_its_threads_is_not_a_block():
    pool = StartedThreadPool(4, "watched-pool")
    try:
        assert _watched(pool.get) == []
    finally:
        pool.shutdown()


def test_first_use_setup_is_not_a_block():
    @first_use_setup
    def connect_once() -> None:
        wait_future(_completed_soon(), 10, "overdue")

    assert _watched(connect_once) == []


def test_waits_outside_our_packages_are_not_counted():
    assert _watched(lambda: threading.Event().wait(0.01)) == []


def test_our_code_computing_past_the_threshold_is_a_block():
    def spin() -> None:
        began = time.thread_time()
        while time.thread_time() - began < 0.03:
            pass

    [block] = _watched(lambda: _one_step(spin), threshold=0.02)
    assert block.kind == "busy" and "CPU" in block.what


def test_many_quick_calls_in_one_callback_are_not_a_block():
    # An application issuing a hundred calls from one step is not blocked by us:
    # each call into our code is judged on its own CPU time, not their sum.
    def spin(seconds: float) -> None:
        began = time.thread_time()
        while time.thread_time() - began < seconds:
            pass

    def many() -> None:
        for _ in range(10):
            _one_step(spin, 0.005)

    assert _watched(many, threshold=0.02) == []


def test_time_the_loop_thread_spends_off_cpu_is_not_busy():
    # wall time without CPU time (as when the machine is too busy to run the loop's
    # thread), here spent outside our packages so that it is not a wait of ours either
    assert _watched(lambda: threading.Event().wait(0.1), threshold=0.02) == []


def test_the_watch_refuses_a_loop_it_does_not_run_on():
    loop = asyncio.new_event_loop()
    try:
        async def other() -> None:
            with watch_loop(loop):
                pass
        try:
            asyncio.run(other())
        except RuntimeError as exc:
            assert "must be called from a coroutine on the loop it watches" in str(exc)
        else:
            raise AssertionError("watch_loop accepted another loop")
    finally:
        loop.close()
