"""Listener pools: members of a pool share the work; every pool and the default get a copy."""

from __future__ import annotations

import threading
import uuid

import pytest

from messaging import Target
from messaging.notify import Notifier, get_notification_listener
from messaging.testing import Recorder, running_server
from messaging.testing.helpers import start_all
from messaging.transport import get_notification_transport


@pytest.fixture
def transport():
    with get_notification_transport(None, "fake://") as t:
        yield t


class Collect:
    def __init__(self, recorder: Recorder, name: str) -> None:
        self.recorder, self.name = recorder, name

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.recorder.add((self.name, payload["n"]))


def test_each_pool_and_the_default_get_every_notification_once(transport):
    topic = f"p_{uuid.uuid4().hex[:12]}"
    pool_a, pool_b, default = Recorder(), Recorder(), Recorder()
    target = [Target(topic=topic)]
    servers = [
        get_notification_listener(transport, target, [Collect(pool_a, "a1")], pool="a"),
        get_notification_listener(transport, target, [Collect(pool_a, "a2")], pool="a"),
        get_notification_listener(transport, target, [Collect(pool_b, "b1")], pool="b"),
        get_notification_listener(transport, target, [Collect(default, "d1")]),
    ]
    count = 40
    with start_all(servers):
        notifier = Notifier(transport, driver="messagingv2", topics=[topic])
        for n in range(count):
            notifier.info({}, "e", {"n": n})
        got_a = pool_a.wait_count(count)
        got_b = pool_b.wait_count(count)
        got_default = default.wait_count(count)
        # A second notification round trip proves nothing more was on its way.
        notifier.info({}, "e", {"n": count})
        pool_a.wait_count(count + 1)
        pool_b.wait_count(count + 1)
        default.wait_count(count + 1)
    assert sorted(n for _, n in got_a) == list(range(count))  # shared: each exactly once
    assert sorted(n for _, n in got_b) == list(range(count))
    assert sorted(n for _, n in got_default) == list(range(count))
    assert len(pool_a.items) == len(pool_b.items) == len(default.items) == count + 1


def test_members_of_a_pool_compete_for_notifications(transport):
    """While one member is busy, the other member of its pool handles the rest."""
    topic = f"p_{uuid.uuid4().hex[:12]}"
    handled = Recorder()
    release = threading.Event()
    busy = threading.Event()

    class Blocking:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            handled.add(("blocking", payload["n"]))
            busy.set()
            assert release.wait(10)

    target = [Target(topic=topic)]
    first = get_notification_listener(transport, target, [Blocking()], executor="blocking",
                                      pool="shared")
    second = get_notification_listener(transport, target, [Collect(handled, "free")],
                                       executor="blocking", pool="shared")
    notifier = Notifier(transport, driver="messagingv2", topics=[topic])
    try:
        with running_server(first):
            notifier.info({}, "e", {"n": 0})
            assert busy.wait(10)  # the first member holds message 0 and takes no more
            with running_server(second):
                for n in range(1, 6):
                    notifier.info({}, "e", {"n": n})
                got = handled.wait_count(6)
                release.set()
    finally:
        release.set()
    assert got[0] == ("blocking", 0)
    assert sorted(got[1:]) == [("free", n) for n in range(1, 6)]
