"""Kit: only the documented ``messaging`` exceptions cross the driver interface.

Every test here drives ``transport.driver`` itself, not the
:class:`~messaging.Transport`: the transport turns a client-library
exception (kombu, amqp, pika, proton, zmq...) that a driver lets through into
``MessageDeliveryFailure`` and logs it, which keeps applications safe but
would hide the broken driver from the kit. Each verb is pinned to the one
error the interface documents for its situation:

- a cleaned-up driver: every send raises ``MessageDeliveryFailure``
  (``submit_*`` at once or through its future);
- an unreachable bus: ``call`` and ``submit_call`` end with
  ``MessagingTimeout``, the other sends with ``MessageDeliveryFailure``; a
  listener is built, polls empty, stops and cleans up without raising;
- received messages: settling twice, or after the listener was cleaned up,
  and replying after it, raise nothing (only the first settlement counts;
  ``reply`` must not raise).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import pytest

from messaging.driver import Driver, Reply
from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.target import Target
from messaging.testing.helpers import raw_request

BOUND = 30.0  # seconds any one verb may take here (the unreachable URLs use ~2 s bounds)
WAIT = 20.0


def _raised(verb: Callable[[], Any]) -> BaseException | None:
    """What ``verb`` raised, or what the future it returned ended with; None if neither."""
    try:
        result = verb()
        if isinstance(result, concurrent.futures.Future):
            try:
                result.result(timeout=BOUND)
            except concurrent.futures.TimeoutError:
                pytest.fail(f"the future did not end within {BOUND}s")
    except BaseException as exc:  # judged by the caller
        return exc
    return None


def _name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def _sends(driver: Driver, topic: str) -> list[tuple[str, Callable[[], Any]]]:
    """Each of the six send verbs, called on the driver directly.

    Calls keep the default ``retry`` (bounded by their timeout alone: the call
    rule, ``MessagingTimeout``); casts and notifications get ``retry=0``.
    """
    target = Target(topic=topic)
    request = {"method": "m", "args": {}}
    note_target = Target(topic=f"{topic}.info")
    note = {"message_id": "m", "publisher_id": "kit", "event_type": "kit.e",
            "priority": "INFO", "payload": {}, "timestamp": "2026-01-01 00:00:00"}
    return [
        ("call", lambda: driver.call(target, {}, request, timeout=1.5)),
        ("submit_call", lambda: driver.submit_call(target, {}, request, timeout=1.5)),
        ("cast", lambda: driver.cast(target, {}, request, retry=0)),
        ("submit_cast", lambda: driver.submit_cast(target, {}, request, retry=0)),
        ("notify", lambda: driver.notify(note_target, {}, note, retry=0)),
        ("submit_notify", lambda: driver.submit_notify(note_target, {}, note, retry=0)),
    ]


def _check(verb: str, fn: Callable[[], Any], expected: type[BaseException]) -> str:
    """Assert ``fn`` ends, in bounded time, with ``expected``; return the verb's name."""
    began = time.monotonic()
    exc = _raised(fn)
    took = time.monotonic() - began
    assert exc is not None, f"{verb} succeeded"
    assert isinstance(exc, expected), f"{verb} raised {_name(exc)}, not {expected.__name__}"
    assert took < BOUND, f"{verb} took {took:.1f}s"
    return verb


def test_cleaned_up_driver_raises_delivery_failure_on_every_send(fresh_transport, topic):
    transport = fresh_transport()
    driver = transport.driver
    transport.cleanup()
    checked = [_check(verb, fn, MessageDeliveryFailure) for verb, fn in _sends(driver, topic)]
    assert len(checked) == 6


@pytest.fixture
def unreachable_driver(unreachable):
    """The driver of a transport whose bus cannot be reached."""
    return unreachable.driver


def test_unreachable_bus_raises_only_the_documented_errors(unreachable_driver, topic):
    checked = [_check(verb, fn, MessagingTimeout if verb.endswith("call")
                      else MessageDeliveryFailure)
               for verb, fn in _sends(unreachable_driver, topic)]
    assert checked == ["call", "submit_call", "cast", "submit_cast", "notify", "submit_notify"]


def test_listeners_on_an_unreachable_bus_raise_nothing(unreachable_driver, topic):
    for listen in (lambda: unreachable_driver.listen(Target(topic=topic, server="s1")),
                   lambda: unreachable_driver.listen_for_notifications(
                       [(Target(topic=topic), "info")])):
        listener = listen()
        try:
            assert listener.poll(timeout=0.2) == []
            assert listener.consuming is False
            assert listener.last_error is None or isinstance(listener.last_error, str)
            listener.stop()
            assert listener.poll(timeout=0.2) == []
        finally:
            listener.cleanup()
        listener.cleanup()  # twice: harmless


def _hooks(transport):
    hooks = transport.driver.testing
    if hooks is None:
        pytest.skip("driver offers no testing hooks to publish raw bytes")
    return hooks


def test_settling_after_cleanup_raises_nothing(transport, topic):
    """A worker that finishes after its listener was cleaned up must not see a client error."""
    hooks = _hooks(transport)
    target = Target(topic=topic, server="s1")
    listener = transport.driver.listen(target)
    try:
        hooks.publish_raw(target, raw_request("work", {"n": 1}))
        hooks.publish_raw(target, raw_request("work", {"n": 2}))
        taken = listener.poll(timeout=WAIT)
        assert [m.message["args"] for m in taken] == [{"n": 1}]
        taken[0].acknowledge()
        taken[0].acknowledge()  # a second settlement does not count, and does not raise
        if transport.capabilities.requeue:
            taken[0].requeue()
        late = listener.poll(timeout=WAIT)
        assert [m.message["args"] for m in late] == [{"n": 2}]
    finally:
        listener.cleanup()
    settles = [late[0].acknowledge]
    if transport.capabilities.requeue:
        settles.insert(0, late[0].requeue)
    for settle in settles:
        exc = _raised(settle)
        assert exc is None, f"{settle.__name__} after cleanup raised {_name(exc)}"


def test_replying_after_cleanup_raises_nothing(transport, fresh_transport, topic):
    """``reply`` must not raise, even once its listener is gone; the caller times out."""
    target = Target(topic=topic, server="s1")
    listener = transport.driver.listen(target)
    caller = fresh_transport().driver
    try:
        pending = caller.submit_call(target, {}, {"method": "work", "args": {}}, timeout=3)
        taken = listener.poll(timeout=WAIT)
        assert [m.message["method"] for m in taken] == ["work"]
    finally:
        listener.cleanup()
    message: Any = taken[0]
    assert message.wants_reply
    steps = (message.heartbeat, lambda: message.reply(Reply(result="late")), message.acknowledge)
    for step in steps:
        exc = _raised(step)
        assert exc is None, f"{step} after cleanup raised {_name(exc)}"
    # The late reply may still reach the caller (the reply path outlives one listener)
    # or not: either way the call ends by its deadline, and never with a client error.
    exc = _raised(lambda: pending)
    assert exc is None or isinstance(exc, MessagingTimeout), _name(exc)
