"""``Driver.cleanup()`` ends pending calls at once with ``MessagingTimeout``."""

from __future__ import annotations

import threading
import time

import pytest

from messaging.exceptions import MessagingTimeout
from messaging.target import Target

pytestmark = pytest.mark.rabbit


def test_cleanup_ends_a_pending_call_at_once(make_driver, serve, topic):
    client, server_side = make_driver(), make_driver()
    taken, release = threading.Event(), threading.Event()

    def never_answers_in_time(msg):
        taken.set()
        release.wait(20)

    serve(server_side.listen(Target(topic=topic, server="s1")), never_answers_in_time)
    outcome = {}

    def call():
        try:
            client.call(Target(topic=topic), {}, {"method": "m", "args": {}}, timeout=8)
        except Exception as exc:
            outcome["exc"] = exc
        outcome["at"] = time.monotonic()

    caller = threading.Thread(target=call)
    caller.start()
    assert taken.wait(10), "the server never got the request"
    cleaned = time.monotonic()
    client.cleanup()
    caller.join(10)
    release.set()
    assert outcome["at"] - cleaned < 1.5, \
        f"the call outlived cleanup() by {outcome['at'] - cleaned:.1f} s"
    assert isinstance(outcome.get("exc"), MessagingTimeout), outcome
    assert "cleaned up" in str(outcome["exc"])
