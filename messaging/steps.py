"""Dispatch written once, run two ways: in the calling thread, or awaited on an event loop.

A dispatcher describes how it handles messages as a generator of
:class:`Step` s. Each step is one call to make (an endpoint method, an
acknowledgement, a reply); the generator receives the call's result, or has
the call's exception raised at its ``yield``. Everything else (finding the
endpoint, deserializing, turning exceptions into failures, deciding to
requeue) is plain code in the generator, so the sync and async servers share
it instead of each having a copy:

- :func:`run_steps` makes each call in the current thread (the ``blocking``
  and ``threading`` executors);
- :func:`run_steps_async` awaits ``async def`` callables on the running loop
  and hands every other callable to a thread pool (the ``asyncio``
  executor), so neither sync endpoint code nor a driver call that may block
  ever runs on the loop.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar, cast

__all__ = ["RunBlocking", "Step", "Steps", "is_async_callable", "run_steps", "run_steps_async"]

R = TypeVar("R")


class Step:
    """One call a dispatcher wants made: ``fn(*args, **kwargs)``."""

    __slots__ = ("args", "fn", "kwargs")

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"<Step {getattr(self.fn, '__qualname__', self.fn)!r}>"


#: A dispatcher's handling: yields steps, receives their results, returns its outcome.
Steps = Generator[Step, Any, R]
#: How the async runner makes a synchronous call off the loop (the executor's pool).
RunBlocking = Callable[..., Awaitable[Any]]


#: is_async_callable's answers, per plain function (a bound method is looked up by its
#: function: a new bound method object is made at every attribute access).
_ASYNC: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def is_async_callable(fn: Any) -> bool:
    """True if calling ``fn`` returns a coroutine (an ``async def`` function or method).

    Answers for functions and methods are remembered per function; other
    callables (partials, objects with ``__call__``) are looked at every time.
    """
    func = getattr(fn, "__func__", fn)  # a bound method's function
    if type(func) is _FunctionType:
        try:
            return _ASYNC[func]
        except KeyError:
            answer = _ASYNC[func] = _is_async(fn)
            return answer
    return _is_async(fn)


_FunctionType = type(is_async_callable)


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None))  # noqa: B004 - an object whose __call__ is async


def _coroutine_refused(step: Step) -> TypeError:
    name = getattr(step.fn, "__qualname__", repr(step.fn))
    return TypeError(f"{name} is a coroutine function; serve it with executor='asyncio'")


def _advance(steps: Steps[R], value: Any, error: Exception | None) -> tuple[Step | None, Any]:
    """Hand the last outcome to the generator: ``(next step, None)`` or ``(None, its result)``."""
    try:
        return (steps.send(value) if error is None else steps.throw(error)), None
    except StopIteration as stop:
        return None, stop.value


def run_steps(steps: Steps[R]) -> R:
    """Make every step's call in this thread; return what the generator returns.

    An ``async def`` endpoint cannot run here: its step fails with a
    ``TypeError`` saying to use the ``asyncio`` executor (the dispatcher turns
    it into a failure reply or a log line like any endpoint error).
    """
    value: Any = None
    error: Exception | None = None
    while True:
        step, result = _advance(steps, value, error)
        if step is None:
            return cast(R, result)
        value, error = None, None
        try:
            if is_async_callable(step.fn):
                raise _coroutine_refused(step)
            value = step.fn(*step.args, **step.kwargs)
            if inspect.iscoroutine(value):  # an async function behind a plain wrapper
                value.close()
                raise _coroutine_refused(step)
        except Exception as exc:
            value, error = None, exc


async def run_steps_async(steps: Steps[R], run_blocking: RunBlocking) -> R:
    """Make every step's call without blocking the loop; return what the generator returns.

    ``async def`` callables are awaited on the running loop; anything else
    goes through ``run_blocking(fn, *args, **kwargs)`` (a thread pool), and
    an awaitable it returns is awaited too. If the task is cancelled the
    generator is closed, so its ``finally`` blocks run.
    """
    value: Any = None
    error: Exception | None = None
    try:
        while True:
            step, result = _advance(steps, value, error)
            if step is None:
                return cast(R, result)
            value, error = None, None
            try:
                if is_async_callable(step.fn):
                    value = await step.fn(*step.args, **step.kwargs)
                else:
                    value = await run_blocking(step.fn, *step.args, **step.kwargs)
                    if inspect.isawaitable(value):
                        value = await value
            except Exception as exc:
                value, error = None, exc
    finally:
        steps.close()
