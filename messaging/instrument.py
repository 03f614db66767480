"""Tracing and metrics wired into sends and receipts, once for the sync and async front ends.

A :class:`~messaging.Transport` builds an :class:`Instrumentation` from its
configuration only when tracing or metrics are enabled; otherwise it has
none and its verbs are the plain methods (nothing added at all). With one:

- every send passes through :meth:`Instrumentation.send` (the transport's
  ``call``/``cast``/``notify`` and their ``submit_*`` forms, so the blocking
  and the asyncio clients, notifiers and the CLI are covered alike): a
  producer span whose W3C context is injected into a copy of the message
  context, and the client metrics, ended when the reply, the confirmation
  or the error comes;
- a dispatcher opens a :class:`Receipt` per received message: a consumer
  span continuing the sender's trace, current while the endpoint runs
  (whichever thread or event loop runs it), and the server metrics.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, cast

from .exceptions import MessagingTimeout
from .metrics import Metrics, metrics_options
from .steps import Step, is_async_callable
from .tracing import Tracing, tracing_options

if TYPE_CHECKING:
    from .driver import Driver, Reply
    from .target import Target

__all__ = ["Instrumentation", "Receipt"]

class Instrumentation:
    """The tracing and metrics of one transport.

    :param tracing: producer/consumer spans, or None.
    :param metrics: instruments, or None.
    """

    def __init__(self, tracing: Tracing | None, metrics: Metrics | None) -> None:
        self.tracing = tracing
        self.metrics = metrics

    @classmethod
    def from_conf(cls, conf: Any, driver: Driver) -> Instrumentation | None:
        """What ``conf`` enables for ``driver``'s transport, or None when nothing is."""
        tracing = metrics = None
        if tracing_options(conf)["tracing_enabled"]:
            system = getattr(driver, "messaging_system", None) or driver.url.scheme
            tracing = Tracing(tracing_options(conf), system)
        if metrics_options(conf)["metrics_enabled"]:
            metrics = Metrics(driver.url.scheme)
        if tracing is None and metrics is None:
            return None
        return cls(tracing, metrics)

    # -- sending ---------------------------------------------------------------------------

    #: The transport verbs that send.
    VERBS = ("call", "cast", "notify", "submit_call", "submit_cast", "submit_notify")

    def wrap_verbs(self, transport: Any) -> None:
        """Give ``transport`` instance attributes running each verb through :meth:`send`."""
        for verb in self.VERBS:
            setattr(transport, verb, self._verb(verb, getattr(type(transport), verb), transport))

    def _verb(self, verb: str, fn: Callable[..., Any], transport: Any) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(target: Target, ctxt: Mapping[str, Any], message: Mapping[str, Any],
                **kwargs: Any) -> Any:
            return self.send(verb, fn, transport, target, ctxt, message, kwargs)
        return run

    def send(self, verb: str, send: Callable[..., Any], transport: Any, target: Target,
             ctxt: Mapping[str, Any], message: Mapping[str, Any], kwargs: dict[str, Any],
             ) -> Any:
        """Run the transport verb ``send`` inside a producer span and the client metrics."""
        notify = verb.endswith("notify")
        is_call = verb.endswith("call")
        if notify:
            operation = "notify"
        elif is_call:
            operation = "call"
        else:
            operation = "fanout" if target.fanout else "cast"
        topic = target.topic or ""
        method = None if notify else _text(message.get("method"))
        span = None
        if self.tracing is not None:
            span = self.tracing.start_send(
                operation, topic, method, None if notify else _text(message.get("namespace")),
                _text(message.get("message_id")) if notify else None, ctxt.get("request_id"))
            ctxt = self.tracing.inject(span, ctxt)
        labels = None
        if self.metrics is not None:
            labels = self.metrics.labels(
                operation, topic, _text(message.get("priority"), lower=True) if notify
                else method)
            if is_call:
                self.metrics.call_started(labels)
        end = functools.partial(self._sent, span, labels, is_call, time.monotonic())
        try:
            result = send(transport, target, ctxt, message, **kwargs)
        except BaseException as exc:
            end(error=exc)
            raise
        if verb.startswith("submit_"):
            cast("Future[Any]", result).add_done_callback(lambda f: _end_future(end, f))
        else:
            end(reply=result)
        return result

    def _sent(self, span: Any, labels: dict[str, str] | None, is_call: bool, started: float,
              reply: Reply | None = None, error: BaseException | None = None,
              cancelled: bool = False) -> None:
        failure = getattr(reply, "failure", None)
        if cancelled:
            outcome = "cancelled"
        elif error is not None:
            outcome = "timeout" if isinstance(error, MessagingTimeout) else "failed"
        elif failure is not None:
            outcome = "remote_error"
        else:
            outcome = "ok"
        if span is not None:
            assert self.tracing is not None
            if error is not None:
                self.tracing.failed(span, error)
            elif failure is not None:
                remote = str(failure.get("class") or "RemoteError")
                self.tracing.failed(span, f"{remote}: {failure.get('message', '')}", remote)
            elif cancelled:
                self.tracing.failed(span, "cancelled", "cancelled")
            span.end()
        if labels is not None:
            assert self.metrics is not None
            self.metrics.sent(labels, outcome, time.monotonic() - started)
            if is_call:
                self.metrics.call_ended(labels)

    # -- receiving -------------------------------------------------------------------------

    def receive(self, kind: str, destination: str, method: str | None, ctxt: Any, *,
                namespace: str | None = None, message_id: str | None = None,
                batch: Iterable[Any] = ()) -> Receipt:
        """Open the receipt of one message (or of one batch: ``batch`` gives the contexts)."""
        return Receipt(self, kind, destination, method, ctxt, namespace, message_id,
                       list(batch))

    def dropped(self, kind: str, destination: str) -> None:
        """A malformed message was dropped before any endpoint saw it (metrics only)."""
        if self.metrics is not None:
            self.metrics.handled(self.metrics.labels(kind, destination, "unknown"), "malformed",
                                 None)

    def queued(self, kind: str, seconds: float) -> None:
        """A message waited ``seconds`` between the bus and its dispatch."""
        if self.metrics is not None:
            self.metrics.queued(kind, seconds)


class Receipt:
    """One received message (or batch) being handled: its span and its server metrics."""

    __slots__ = ("_inst", "_labels", "_outcome", "_seconds", "_span", "_started")

    def __init__(self, inst: Instrumentation, kind: str, destination: str,
                 method: str | None, ctxt: Any, namespace: str | None,
                 message_id: str | None, batch: list[Any]) -> None:
        self._inst = inst
        self._span = None
        if inst.tracing is not None:
            if batch:
                self._span = inst.tracing.start_batch(batch, destination, method)
            else:
                self._span = inst.tracing.start_receive(ctxt, destination, method, namespace,
                                                        message_id)
        self._labels = inst.metrics.labels(kind, destination, method) \
            if inst.metrics is not None else None
        self._outcome = "ok"
        self._seconds: float | None = None
        self._started = time.monotonic()

    def step(self, step: Step) -> Step:
        """``step`` (an endpoint call) run with this receipt's span current, and timed."""
        fn = step.fn
        if is_async_callable(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._current():
                    began = time.monotonic()
                    try:
                        return await fn(*args, **kwargs)
                    finally:
                        self._add_time(time.monotonic() - began)
            return Step(run_async, *step.args, **step.kwargs)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._current():
                began = time.monotonic()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self._add_time(time.monotonic() - began)
        return Step(run, *step.args, **step.kwargs)

    def _current(self) -> Any:
        if self._span is None:
            return _NO_SPAN
        assert self._inst.tracing is not None
        return self._inst.tracing.current(self._span)

    def _add_time(self, seconds: float) -> None:
        self._seconds = seconds if self._seconds is None else self._seconds + seconds

    def failed(self, error: BaseException, outcome: str = "error") -> None:
        """The endpoint (or the dispatch) failed with ``error``."""
        self._outcome = outcome
        if outcome == "refused" and self._labels is not None:
            self._labels["method"] = "unknown"  # a caller-chosen name: keep labels bounded
        if self._span is not None:
            assert self._inst.tracing is not None
            self._inst.tracing.failed(self._span, error)

    def finish(self, outcome: str | None = None) -> None:
        """End the span and count the message (``outcome``: ``requeued``... overrides)."""
        if outcome is not None:
            self._outcome = outcome
        if self._span is not None:
            self._span.set_attribute("messaging.outcome", self._outcome)
            self._span.end()
        if self._labels is not None:
            assert self._inst.metrics is not None
            self._inst.metrics.handled(self._labels, self._outcome, self._seconds)


class _NoSpan:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SPAN = _NoSpan()


def _end_future(end: Callable[..., None], future: Future[Any]) -> None:
    if future.cancelled():
        end(cancelled=True)
    elif (error := future.exception()) is not None:
        end(error=error)
    else:
        end(reply=future.result())


def _text(value: Any, lower: bool = False) -> str | None:
    if not isinstance(value, str):
        return None
    return value.lower() if lower else value
