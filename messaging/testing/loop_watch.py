"""Catch our code blocking an event loop, in a way a busy machine cannot fake.

A loop is blocked in two ways: a callback *waits* for another thread (a
lock, an event, a future's result, a thread starting, a sleep, a blocking
socket), or it *computes* for too long. :func:`watch_loop` sees both on
the loop's own thread, through a profile hook (:func:`sys.setprofile`,
that thread only):

- **waits** are counted, not timed: every wait entered inside a callback
  through a frame of our packages (``messaging`` and the driver's packages,
  not the kit itself) is a block, however short it turned out to be. The
  exceptions are set-up paid once: a thread pool starting its threads, and
  code marked :func:`~messaging.first_use.first_use_setup` (a transport
  opening its connection and starting its I/O thread on first use). A
  thread started for a single call is a block like any other wait.
- **computing** is measured in the loop thread's CPU time
  (:func:`time.thread_time`) per call from outside into our code, not in
  wall time: a machine too busy to schedule the loop, or another thread
  holding the GIL, stretches wall time but not the CPU time a call itself
  used. One call that used more than the threshold is a block; an
  application making a hundred quick calls in one callback is not.

The loop also runs in asyncio debug mode with that threshold, so asyncio
still reports every slow callback by wall time (:attr:`LoopWatch.slow`),
shown beside the blocks to help find them, and refuses thread-unsafe calls.
"""

from __future__ import annotations

import _socket
import asyncio
import concurrent.futures.thread
import contextlib
import gc
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from ..first_use import is_first_use_setup

__all__ = ["SLOW_CALLBACK", "Block", "LoopWatch", "packages_of", "watch_loop"]

#: CPU seconds one call into our code may use before the watch counts it as blocking the loop.
SLOW_CALLBACK = 0.05

_RUN_HANDLE = asyncio.events.Handle._run.__code__
_CONDITION_WAIT = threading.Condition.wait.__code__
_THREAD_JOIN = threading.Thread.join.__code__
#: A standard thread pool starting a thread (at most once per thread it may have).
_POOL_GROWTH = concurrent.futures.thread.ThreadPoolExecutor._adjust_thread_count.__code__
_SOCKET_WAITS = frozenset({"accept", "connect", "connect_ex", "recv", "recv_into", "recvfrom",
                           "recvfrom_into", "recvmsg", "send", "sendall", "sendmsg", "sendto"})
_C_WAITS = {time.sleep: "time.sleep", _socket.getaddrinfo: "socket.getaddrinfo"}
_TESTING_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@dataclass(frozen=True)
class Block:
    """One way our code held the loop: a ``wait`` it entered or a ``busy`` callback."""

    kind: str
    what: str
    where: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.what}\n    at {self.where}"


class LoopWatch(logging.Handler):
    """What :func:`watch_loop` saw: :attr:`blocks` fail a test, :attr:`slow` is context."""

    def __init__(self, packages: Iterable[str], threshold: float) -> None:
        super().__init__(logging.WARNING)
        self.threshold = threshold
        self.blocks: list[Block] = []
        #: asyncio's debug reports of callbacks slow by wall time (a busy machine makes some).
        self.slow: list[str] = []
        self._ours = tuple(_package_dir(name) for name in packages)
        self._known: dict[CodeType, bool] = {}
        # The callback running now (its Handle._run frame and handle), how deep the stack
        # is in our frames, and the loop thread's CPU clock when the outermost one began.
        self._callback: tuple[FrameType, Any] | None = None
        self._depth = 0
        self._entered = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("Executing ") and " took " in text:
            self.slow.append(text)

    def report(self) -> str:
        """The blocks, then asyncio's slow-callback reports, for an assertion message."""
        lines = [str(b) for b in self.blocks]
        if self.slow:
            lines.append(f"asyncio reported {len(self.slow)} callback(s) slow by wall time:")
            lines.extend(f"    {s}" for s in self.slow)
        return "\n".join(lines)

    # -- the profile hook (runs on the loop's thread for every call and return) -----

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            if code is _RUN_HANDLE:
                self._callback = (frame, frame.f_locals.get("self"))
                self._depth = 0
            elif self._callback is None:
                return
            elif self._is_ours(code):
                if not self._depth:
                    self._entered = time.thread_time()
                self._depth += 1
            elif code is _CONDITION_WAIT:
                timeout = frame.f_locals.get("timeout")
                if timeout is None or timeout > 0:
                    self._wait(frame, f"threading.Condition.wait(timeout={timeout})")
            elif code is _THREAD_JOIN:
                thread = frame.f_locals.get("self")
                if frame.f_locals.get("timeout") != 0 and thread is not None \
                        and thread.is_alive():
                    self._wait(frame, f"join of thread {thread.name!r}")
        elif event == "return" and self._callback is not None:
            if self._callback[0] is frame:
                self._callback = None
            elif self._depth and self._is_ours(frame.f_code):
                self._depth -= 1
                if not self._depth:
                    used = time.thread_time() - self._entered
                    if used >= self.threshold:
                        self.blocks.append(Block(
                            "busy", f"{used:.3f} s of CPU in one call into our code "
                            f"({frame.f_code.co_name})",
                            repr(self._callback[1])))
        elif event == "c_call" and self._callback is not None:
            name = _C_WAITS.get(arg) if type(arg) is type(time.sleep) else None
            if name is None and getattr(arg, "__name__", None) in _SOCKET_WAITS:
                sock = getattr(arg, "__self__", None)
                if isinstance(sock, socket.socket) and sock.gettimeout() != 0.0:
                    name = f"blocking socket {arg.__name__}"
            if name is not None:
                self._wait(frame, name, called_here=True)

    def _wait(self, frame: FrameType, what: str, called_here: bool = False) -> None:
        """Record a wait entered at ``frame`` if our code led to it and no pool is growing."""
        ours = None
        current: FrameType | None = frame if called_here else frame.f_back
        while current is not None and current.f_code is not _RUN_HANDLE:
            if current.f_code is _POOL_GROWTH or is_first_use_setup(current.f_code):
                return
            if ours is None and self._is_ours(current.f_code):
                ours = current
            current = current.f_back
        if ours is not None:
            self.blocks.append(Block("wait", what, _stack(frame)))

    def _is_ours(self, code: CodeType) -> bool:
        ours = self._known.get(code)
        if ours is None:
            path = code.co_filename
            ours = self._known[code] = path.startswith(self._ours) and not path.startswith(
                _TESTING_DIR)
        return ours


@contextlib.contextmanager
def watch_loop(loop: asyncio.AbstractEventLoop, threshold: float = SLOW_CALLBACK,
               packages: Iterable[str] = ("messaging",)) -> Iterator[LoopWatch]:
    """Watch ``loop`` for blocks by code of ``packages``; call it on the loop's thread.

    The yielded :class:`LoopWatch` lists every :class:`Block` seen while the
    block ran (see the module docstring). The objects alive before the block
    are collected and frozen (:func:`gc.freeze`) for its duration, so that a
    full collection of a long test run's heap is not counted against the
    callback it interrupts.
    """
    if loop is not asyncio.get_running_loop():
        raise RuntimeError("watch_loop() must be called from a coroutine on the loop it watches")
    watch = LoopWatch(packages, threshold)
    gc.collect()
    gc.freeze()
    logger = logging.getLogger("asyncio")
    old = (loop.get_debug(), loop.slow_callback_duration, logger.level, sys.getprofile())
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    logger.addHandler(watch)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    sys.setprofile(watch.profile)
    try:
        yield watch
    finally:
        sys.setprofile(old[3])
        gc.unfreeze()
        logger.removeHandler(watch)
        loop.set_debug(old[0])
        loop.slow_callback_duration = old[1]
        logger.setLevel(old[2])


def _package_dir(name: str) -> str:
    module = sys.modules.get(name) or __import__(name)
    return os.path.dirname(os.path.abspath(module.__file__ or "")) + os.sep


def _stack(frame: FrameType) -> str:
    """The frames from the callback down to ``frame``, innermost last."""
    lines = []
    current: FrameType | None = frame
    while current is not None and current.f_code is not _RUN_HANDLE:
        code = current.f_code
        name = getattr(code, "co_qualname", code.co_name)  # Python 3.11+
        lines.append(f"{code.co_filename}:{current.f_lineno} in {name}")
        current = current.f_back
    return "\n       ".join(reversed(lines))


def packages_of(obj: object) -> tuple[str, ...]:
    """``messaging`` and the top-level packages of ``obj``'s class and its bases."""
    names = {"messaging"} | {cls.__module__.split(".")[0] for cls in type(obj).__mro__}
    return tuple(sorted(n for n in names if n not in sys.stdlib_module_names
                        and n != "builtins"))
