"""Reply correlation: the calls a driver is waiting on, as futures keyed by message id.

Every driver that carries calls needs the same bookkeeping, and it is where
drivers used to disagree: register a call before its request leaves, feed it
reply frames (call-monitor heartbeats and the final answer), end it with
:class:`~messaging.exceptions.MessagingTimeout` at its deadline or when no
heartbeat came in time, fail it at once when its request could not be sent,
and wake every caller when the transport is cleaned up. A driver owns one
:class:`ReplyCorrelator` per reply address and calls :meth:`~ReplyCorrelator.deliver`
from wherever replies arrive; everything else is here, once.

The futures end by themselves (deadlines run on :mod:`messaging.deadlines`),
so they can be awaited from asyncio without a thread per call. Cancelling a
future forgets its call: a reply arriving later is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from . import deadlines
from .driver import Reply
from .envelope import ReplyFrame
from .exceptions import MessagingTimeout
from .executors import StartedThreadPool
from .target import Target

__all__ = ["Listeners", "ReplyCorrelator", "settle_future"]

LOG = logging.getLogger(__name__)

#: How many servers consume what a target addresses (None: the driver cannot tell);
#: called on a worker thread, may talk to the bus, must end within a few seconds.
Listeners = Callable[[Target], "int | None"]
#: Seconds before a call's deadline that its listeners are counted (at most a fifth of
#: its timeout), so that a timeout says "no server listening" without arriving late.
PROBE_LEAD = 1.0
_PROBES = StartedThreadPool(2, "messaging-timeout-check")


def settle_future(future: Future[Any], result: Any = None,
                  exc: BaseException | None = None) -> bool:
    """Complete ``future`` unless it is already done or cancelled; True if this call did."""
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
    except InvalidStateError:
        return False
    return True


class _Call:
    """One call in flight, with its one timer.

    The timer fires at the earliest of the deadline, the end of the
    call-monitor gap and the moment to count the target's servers; each
    firing does what is due and sets the next one, so a call never has more
    than one timer in the heap, and that one is cancelled when the call ends.
    """

    __slots__ = ("deadline", "future", "last_activity", "listeners", "method", "monitor",
                 "msg_id", "probe_at", "result", "sent", "started", "target", "timeout",
                 "timer")

    def __init__(self, msg_id: str, timeout: float, monitor: float | None, method: Any,
                 target: Target | None, deadline: float | None) -> None:
        now = time.monotonic()
        self.msg_id = msg_id
        self.method = method
        self.target = target
        #: servers consuming the target shortly before the deadline (None: not known)
        self.listeners: int | None = None
        #: when to count the target's servers (None: not to, or done)
        self.probe_at: float | None = None
        self.future: Future[Reply] = Future()
        self.timeout = timeout
        self.deadline = now + timeout if deadline is None else deadline
        self.started = self.deadline - timeout
        self.monitor = monitor
        self.last_activity = now
        self.result: Any = None
        self.sent = False
        self.timer: deadlines.TimerHandle | None = None

    @property
    def what(self) -> str:
        """The method and target, for errors and logs (made only when one is written)."""
        if self.target is not None:
            return f"method {self.method!r} on {self.target}"
        return f"method {self.method!r}"

    def next_check(self) -> float:
        when = self.deadline
        if self.monitor is not None:
            when = min(when, self.last_activity + self.monitor)
        if self.probe_at is not None:
            when = min(when, self.probe_at)
        return when


class ReplyCorrelator:
    """Calls waiting for replies on one reply address (a queue, a socket...).

    :param reply_to: the address replies come to, named in timeout errors.
    :param state: optional callable describing the transport's trouble (e.g.
        "the broker is unreachable: ..."), appended to timeout errors; None
        or an empty string when all is well.
    :param listeners: optional :data:`Listeners` of the driver. Shortly before
        a call's deadline (:data:`PROBE_LEAD`) it counts the servers of the
        call's target, so that the timeout tells "no server is listening" from
        "the server never answered"; "the bus did not accept the request" is
        told by :meth:`sent` never being called.
    """

    def __init__(self, reply_to: str, state: Callable[[], str | None] | None = None,
                 listeners: Listeners | None = None) -> None:
        self.reply_to = reply_to
        self._state = state
        self._listeners = listeners
        self._calls: dict[str, _Call] = {}
        self._lock = threading.Lock()
        self._closed: str | None = None

    def __len__(self) -> int:
        """Calls still waiting."""
        return len(self._calls)

    def register(self, msg_id: str, timeout: float, call_monitor_timeout: float | None = None,
                 *, target: Target | None = None, method: Any = None,
                 deadline: float | None = None) -> Future[Reply]:
        """Start waiting for the reply to ``msg_id``; register before sending the request.

        ``target`` and ``method`` are named in errors, so a timeout says where to look.
        ``deadline`` (``time.monotonic()`` time) is when ``timeout`` ends, if the
        driver already computed it for the request's own expiration: the call
        and its request then end at the same moment.

        The future gets a :class:`~messaging.driver.Reply` (result or
        failure), or raises ``MessagingTimeout`` when ``timeout`` passes, or
        ``call_monitor_timeout`` passes without a reply or heartbeat, or the
        correlator is closed.
        """
        monitor = call_monitor_timeout if call_monitor_timeout and call_monitor_timeout > 0 \
            else None
        call = _Call(msg_id, max(float(timeout), 0.0), monitor, method, target, deadline)
        if self._listeners is not None and target is not None and call.timeout > 0:
            call.probe_at = call.deadline - min(PROBE_LEAD, call.timeout / 5)
        with self._lock:
            closed = self._closed
            if closed is None:
                self._calls[msg_id] = call
        if closed is not None:
            settle_future(call.future, exc=MessagingTimeout(
                f"Cannot wait for a reply to message ID {msg_id}: {closed}"))
            return call.future
        self._arm(call)
        call.future.add_done_callback(lambda _f: self._forget(call))
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug("Call %s (%s): waiting up to %g s for the reply on %s", msg_id, call.what,
                      call.timeout, self.reply_to)
        return call.future

    def deliver(self, frame: ReplyFrame) -> bool:
        """Feed one reply frame; True if a call was waiting for it.

        A frame with a failure or ``ending`` ends the call; one with neither
        is a heartbeat (it restarts the call-monitor timer) or, with a
        result, the first half of oslo's historic two-message reply.
        """
        call = self._calls.get(frame.msg_id) if isinstance(frame.msg_id, str) else None
        if call is None:
            LOG.debug("No caller waits for the reply to message ID %s (late or duplicate)",
                      frame.msg_id)
            return False
        call.last_activity = time.monotonic()
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug("Call %s: %s after %.3f s", call.msg_id,
                      "reply" if frame.failure is not None or frame.ending else "heartbeat",
                      call.last_activity - call.started)
        if frame.failure is not None:
            settle_future(call.future, Reply(failure=frame.failure))
        elif frame.ending:
            settle_future(call.future, Reply(result=frame.result if frame.result is not None
                                             else call.result))
        elif frame.result is not None:
            call.result = frame.result
        return True

    def sent(self, msg_id: str) -> None:
        """The bus accepted the request of ``msg_id`` (named in a later timeout error)."""
        call = self._calls.get(msg_id)
        if call is not None:
            call.sent = True
            if LOG.isEnabledFor(logging.DEBUG):
                LOG.debug("Call %s: the bus accepted the request after %.3f s", msg_id,
                          time.monotonic() - call.started)

    def fail(self, msg_id: str, exc: BaseException) -> None:
        """End the call of ``msg_id`` with ``exc`` (its request could not be sent)."""
        call = self._calls.get(msg_id)
        if call is not None:
            settle_future(call.future, exc=exc)

    def track_send(self, msg_id: str, send: Future[Any]) -> None:
        """Follow the future of a request's send: mark it sent, or fail the call with its error.

        A send dropped with ``MessagingTimeout`` (its deadline passed while the
        bus was unreachable) is left to the call's own deadline, which says more.
        """
        def done(f: Future[Any]) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is None:
                self.sent(msg_id)
            elif not isinstance(exc, MessagingTimeout):
                self.fail(msg_id, exc)
        send.add_done_callback(done)

    def close(self, reason: str = "the transport was cleaned up") -> None:
        """End every waiting call with ``MessagingTimeout`` naming ``reason``; refuse new ones."""
        with self._lock:
            self._closed = reason
            calls, self._calls = list(self._calls.values()), {}
        for call in calls:
            settle_future(call.future, exc=MessagingTimeout(
                f"Gave up waiting for a reply to message ID {call.msg_id} ({call.what}; reply "
                f"queue {self.reply_to}): {reason}"))

    # -- internals -----------------------------------------------------------------

    def _arm(self, call: _Call) -> None:
        """Set the call's one timer to its next check.

        The call may end at any moment on another thread (a reply, a cancel,
        :meth:`close`); whoever comes second cancels the timer: :meth:`_forget`
        if the timer was set first, this method if the call ended first.
        """
        timer = deadlines.schedule_at(call.next_check(), lambda: self._check(call))
        call.timer = timer
        if call.future.done():
            timer.cancel()

    def _forget(self, call: _Call) -> None:
        with self._lock:
            if self._calls.get(call.msg_id) is call:
                del self._calls[call.msg_id]
        timer = call.timer
        if timer is not None:
            timer.cancel()

    def _probe(self, call: _Call) -> None:
        """Count the target's servers on a worker thread (never on the timer thread)."""
        if self._listeners is None or call.target is None:
            return
        listeners, target = self._listeners, call.target

        def count() -> None:
            if call.future.done():
                return
            try:
                call.listeners = listeners(target)
            except Exception as exc:  # a diagnosis must never break the call
                LOG.debug("Could not count the servers of %s: %s", target, exc)
        try:
            _PROBES.get().submit(count)
        except RuntimeError:  # interpreter shutting down
            pass

    def _check(self, call: _Call) -> None:
        """Timer: count the servers or end the call when due, else look again later."""
        if call.future.done():
            return
        now = time.monotonic()
        if call.probe_at is not None and now >= call.probe_at:
            call.probe_at = None
            self._probe(call)
        when = call.next_check()
        if now < when:
            self._arm(call)
            return
        settle_future(call.future, exc=self._timeout(call, monitor=now < call.deadline))

    def _timeout(self, call: _Call, monitor: bool) -> MessagingTimeout:
        if monitor:
            why = f"no reply or call-monitor heartbeat for {call.monitor:g} s"
        else:
            why = f"no reply within {call.timeout:g} s"
        if call.listeners == 0 and not monitor:
            where = ("no server is listening on it: start one, or check the topic and server "
                     "names" + ("" if call.sent else " (the request was not sent)"))
        elif not call.sent:
            where = ("the bus did not accept the request (it was never confirmed sent), so "
                     "look at the connection to the bus")
        elif monitor or call.listeners is None:
            where = ("the bus accepted the request, so no server took it or the server did "
                     "not answer")
        else:
            where = (f"the bus accepted the request and {call.listeners} server(s) listen on "
                     f"it, so the server never answered: look at its logs (busy, stuck, or "
                     f"its reply was lost)")
        text = (f"Timed out waiting for a reply to message ID {call.msg_id} ({call.what}; "
                f"reply queue {self.reply_to}): {why}; {where}")
        state = self._state() if self._state is not None else None
        if state:
            text += f"; {state}"
        LOG.debug("Call %s: %s", call.msg_id, text)
        return MessagingTimeout(text)
