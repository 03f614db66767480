"""Executors load by name; blocking runs inline, threading on a pool."""

from __future__ import annotations

import threading

import pytest

from messaging import ExecutorLoadFailure
from messaging.executors import BlockingExecutor, ThreadingExecutor, load_executor


def test_blocking_runs_in_caller_thread():
    ex = load_executor("blocking", 4)
    assert isinstance(ex, BlockingExecutor)
    future = ex.submit(threading.get_ident)
    assert future.done() and future.result() == threading.get_ident()


def test_blocking_hands_exceptions_to_future():
    future = BlockingExecutor().submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result()


def test_threading_runs_on_pool_with_size():
    ex = load_executor("threading", 3)
    assert isinstance(ex, ThreadingExecutor) and ex._max_workers == 3
    try:
        assert ex.submit(threading.get_ident).result(5) != threading.get_ident()
    finally:
        ex.shutdown()


def test_unknown_executor_lists_installed():
    with pytest.raises(ExecutorLoadFailure, match="blocking"):
        load_executor("no-such-executor", 1)  # (eventlet is a real one, when installed)


def test_shut_down_blocking_refuses_work():
    ex = BlockingExecutor()
    ex.shutdown()
    with pytest.raises(RuntimeError):
        ex.submit(print)
