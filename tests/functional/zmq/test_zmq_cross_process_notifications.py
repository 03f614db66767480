"""Notifications between processes: priorities, pools, and at-most-once delivery."""

from __future__ import annotations

import messaging

WAIT = 20.0  # seconds for a delivery


def _notifier(transport, topic):
    return messaging.Notifier(transport, "func.pub", driver="messagingv2", topics=[topic])


def test_notifications_reach_a_listener_process(url, topic, peers, transports):
    listener = peers("l1", url, notify=[(topic, None)])
    notifier = _notifier(transports(url), topic)
    notifier.info({}, "func.info", {"n": 1})
    notifier.error({}, "func.error", {"n": 2})
    got = listener.wait_event(lambda e: e["event"] == "notification", count=2)
    assert sorted((e["priority"], e["event_type"], e["payload"]["n"]) for e in got) == [
        ("error", "func.error", 2), ("info", "func.info", 1)]


def test_each_pool_gets_one_copy_across_processes(url, topic, peers, transports):
    a1 = peers("a1", url, notify=[(topic, "pool-a")])
    a2 = peers("a2", url, notify=[(topic, "pool-a")])
    b1 = peers("b1", url, notify=[(topic, "pool-b")])
    default = peers("d1", url, notify=[(topic, None)])
    notifier = _notifier(transports(url), topic)
    count = 20
    for n in range(count):
        notifier.info({}, "func.pool", {"n": n})

    def numbers(*procs):
        return sorted(e["payload"]["n"] for p in procs for e in p.of("notification"))

    b1.wait_event(lambda e: e["event"] == "notification", count=count)
    default.wait_event(lambda e: e["event"] == "notification", count=count)
    from messaging.testing.helpers import wait_for
    wait_for(lambda: len(numbers(a1, a2)) >= count, WAIT, message="pool a to get all")
    assert numbers(a1, a2) == list(range(count))  # shared: each exactly once in the pool
    assert numbers(b1) == list(range(count))
    assert numbers(default) == list(range(count))
    assert a1.of("notification") and a2.of("notification"), "pool a was not shared"


def test_notification_without_listener_is_dropped_not_kept(url, topic, peers, transports):
    notifier = _notifier(transports(url), topic)
    notifier.info({}, "func.early", {"n": 0})  # nobody listens: dropped, no error
    listener = peers("l1", url, notify=[(topic, None)])
    notifier.info({}, "func.late", {"n": 1})
    got = listener.wait_event(lambda e: e["event"] == "notification")
    assert [e["event_type"] for e in got] == ["func.late"]
    assert [e["event_type"] for e in listener.of("notification")] == ["func.late"]
