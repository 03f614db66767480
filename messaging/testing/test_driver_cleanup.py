"""Kit: ``Driver.cleanup`` ends pending calls at once, and a cleaned-up driver fails cleanly."""

from __future__ import annotations

import threading
import time

import pytest

import messaging
from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.target import Target
from messaging.testing.helpers import running_server

PROMPT = 5.0  # seconds within which cleanup must end a 60-second call


class Stuck:
    """An endpoint that blocks until released, so a call is surely waiting for its reply."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def wait_here(self, ctxt):
        self.arrived.set()
        self.release.wait(60)


def test_cleanup_ends_a_blocked_call_with_timeout(transport, fresh_transport, topic):
    endpoint = Stuck()
    server = messaging.get_rpc_server(transport, Target(topic=topic, server="s1"), [endpoint])
    client_transport = fresh_transport()
    outcome: list[BaseException | object] = []

    def call() -> None:
        try:
            outcome.append(messaging.get_rpc_client(client_transport, Target(topic=topic),
                                                    timeout=60).call({}, "wait_here"))
        except BaseException as exc:  # recorded for the assertions below
            outcome.append(exc)

    with running_server(server):
        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        try:
            assert endpoint.arrived.wait(20), "the request never reached the server"
            began = time.monotonic()
            client_transport.cleanup()
            thread.join(PROMPT)
            assert not thread.is_alive(), f"call still blocked {PROMPT}s after cleanup()"
            assert time.monotonic() - began < PROMPT
        finally:
            endpoint.release.set()
    assert len(outcome) == 1 and isinstance(outcome[0], MessagingTimeout), outcome


def test_cleanup_ends_pending_call_futures(fresh_transport, topic):
    transport = fresh_transport()
    futures = [transport.submit_call(Target(topic=topic), {}, {"method": "m", "args": {}},
                                     timeout=60) for _ in range(3)]
    transport.cleanup()
    for future in futures:
        with pytest.raises(MessagingTimeout):
            future.result(timeout=PROMPT)


def test_sends_after_cleanup_fail_with_delivery_failure(fresh_transport, topic):
    """A cleaned-up transport sends nothing: each verb says so at once."""
    transport = fresh_transport()
    transport.cleanup()
    target = Target(topic=topic)
    message = {"method": "m", "args": {}}
    began = time.monotonic()
    with pytest.raises(MessageDeliveryFailure):
        transport.call(target, {}, message, timeout=2)
    with pytest.raises(MessageDeliveryFailure):
        transport.cast(target, {}, message)
    with pytest.raises(MessageDeliveryFailure):
        transport.notify(Target(topic=f"{topic}.info"), {}, {
            "priority": "INFO", "event_type": "e", "payload": {}})
    assert time.monotonic() - began < PROMPT
