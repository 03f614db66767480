"""Conformance kit: notifications (priorities, pools, batches, filters, requeue, durability).

Runs against the driver of ``transport_url`` (from the kit's pytest plugin)
and skips what the driver's capabilities declare it does not offer. Every
test uses its own topic and pool names, and stops its listeners and cleans
up its transports whatever happens.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from messaging.notify import NotificationFilter, NotificationResult
from messaging.notify.dispatcher import PRIORITIES
from messaging.target import Target
from messaging.testing.helpers import Recorder, running_server, start_all
from messaging.testing.plugin import require_broker
from messaging.transport import Transport, get_notification_transport

WAIT = 20.0  # seconds to wait for a delivery before failing


@pytest.fixture
def make_transport(transport_url: str) -> Iterator[Callable[[], Transport]]:
    """Build notification transports on the URL under test; all cleaned up afterwards."""
    require_broker(transport_url)
    made: list[Transport] = []

    def make() -> Transport:
        t = get_notification_transport(None, transport_url)
        made.append(t)
        return t

    try:
        yield make
    finally:
        for t in made:
            t.cleanup()


@pytest.fixture
def ntopic() -> str:
    return f"kit_n_{uuid.uuid4().hex[:12]}"


def _notifier(api: Any, transport: Transport, topic: str, publisher_id: str = "kit.pub") -> Any:
    """A notifier of the API under test (``api.Notifier``) sending on ``topic``."""
    return api.Notifier(transport, publisher_id, driver="messagingv2", topics=[topic])


class Everything:
    """An endpoint for every priority, recording ``(priority, publisher, event, payload, md)``."""

    def __init__(self) -> None:
        self.recorder = Recorder()

    def __getattr__(self, name: str) -> Any:
        if name not in PRIORITIES:
            raise AttributeError(name)

        def method(ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
                   metadata: Any) -> str:
            self.recorder.add((name, publisher_id, event_type, payload, metadata))
            return NotificationResult.HANDLED
        return method


class Info:
    """An ``info`` endpoint recording payload ``n`` values; ``result`` decides each return."""

    def __init__(self, result: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.recorder = Recorder()
        self._result = result

    def info(self, ctxt: Any, publisher_id: Any, event_type: Any, payload: Any,
             metadata: Any) -> Any:
        self.recorder.add((event_type, payload, metadata["message_id"]))
        return self._result(metadata) if self._result else None


def test_every_priority_reaches_its_endpoint_method(api, make_transport, ntopic):
    transport = make_transport()
    endpoint = Everything()
    listener = api.get_notification_listener(transport, [Target(topic=ntopic)], [endpoint])
    notifier = _notifier(api, make_transport(), ntopic)
    methods = ["audit", "debug", "info", "warn", "warning", "error", "critical", "sample"]
    with running_server(listener):
        for method in methods:
            getattr(notifier, method)({}, f"kit.{method}", {"method": method})
        got = endpoint.recorder.wait_count(len(methods), WAIT)
    assert len(got) == len(methods)
    by_event = {event: (priority, publisher, payload, md)
                for priority, publisher, event, payload, md in got}
    for method in methods:
        priority, publisher, payload, md = by_event[f"kit.{method}"]
        assert priority == ("warn" if method == "warning" else method)
        assert publisher == "kit.pub" and payload == {"method": method}
        assert set(md) == {"message_id", "timestamp"}
        assert str(uuid.UUID(md["message_id"])) == md["message_id"]
    assert len({md["message_id"] for *_, md in got}) == len(methods)


def test_pools_share_and_each_pool_gets_a_copy(api, make_transport, ntopic):
    transport = make_transport()
    if not transport.capabilities.pools:
        pytest.skip("driver does not support listener pools")
    pool_a, pool_b = f"kit_pool_a_{uuid.uuid4().hex[:8]}", f"kit_pool_b_{uuid.uuid4().hex[:8]}"
    a1, a2, b1, default = Info(), Info(), Info(), Info()
    target = [Target(topic=ntopic)]
    servers = [
        api.get_notification_listener(make_transport(), target, [a1], pool=pool_a),
        api.get_notification_listener(make_transport(), target, [a2], pool=pool_a),
        api.get_notification_listener(make_transport(), target, [b1], pool=pool_b),
        api.get_notification_listener(make_transport(), target, [default]),
    ]
    count = 20
    with start_all(servers):
        notifier = _notifier(api, transport, ntopic)
        for n in range(count):
            notifier.info({}, "kit.pool", {"n": n})

        def pool_a_total() -> int:
            return len(a1.recorder.items) + len(a2.recorder.items)

        for recorder in (b1.recorder, default.recorder):
            recorder.wait_count(count, WAIT)
        _wait(lambda: pool_a_total() >= count, "pool a to handle every notification")
        # One more notification through every group: whatever was still on its way
        # for the first round has been delivered once this one is.
        notifier.info({}, "kit.pool", {"n": count})
        for recorder in (b1.recorder, default.recorder):
            recorder.wait_count(count + 1, WAIT)
        _wait(lambda: pool_a_total() >= count + 1, "pool a to handle the last notification")
    expected = list(range(count + 1))
    shared = a1.recorder.items + a2.recorder.items
    assert sorted(p["n"] for _, p, _ in shared) == expected  # each exactly once in the pool
    assert sorted(p["n"] for _, p, _ in b1.recorder.items) == expected
    assert sorted(p["n"] for _, p, _ in default.recorder.items) == expected


def test_batch_listener_gets_lists_of_batch_size(api, make_transport, ntopic):
    transport = make_transport()
    batches = Recorder()

    class Batch:
        def info(self, messages: list[dict[str, Any]]) -> None:
            batches.add(messages)

    listener = api.get_batch_notification_listener(transport, [Target(topic=ntopic)], [Batch()],
                                                   batch_size=3, batch_timeout=WAIT * 2)
    with running_server(listener):
        notifier = _notifier(api, make_transport(), ntopic)
        for n in range(3):
            notifier.info({}, "kit.batch", {"n": n})
        [batch] = batches.wait_count(1, WAIT)
    assert sorted(m["payload"]["n"] for m in batch) == [0, 1, 2]
    assert set(batch[0]) == {"ctxt", "publisher_id", "event_type", "payload", "metadata"}


def test_batch_timeout_hands_over_a_partial_batch(api, make_transport, ntopic):
    transport = make_transport()
    batches = Recorder()

    class Batch:
        def info(self, messages: list[dict[str, Any]]) -> None:
            batches.add(messages)

    listener = api.get_batch_notification_listener(transport, [Target(topic=ntopic)], [Batch()],
                                                   batch_size=1000, batch_timeout=0.5)
    with running_server(listener):
        notifier = _notifier(api, make_transport(), ntopic)
        notifier.info({}, "kit.batch", {"n": 0})
        notifier.info({}, "kit.batch", {"n": 1})
        _wait(lambda: sum(len(b) for b in batches.items) >= 2, "both notifications")
    assert sorted(m["payload"]["n"] for b in batches.items for m in b) == [0, 1]


def test_filter_rule_screens_notifications(api, make_transport, ntopic):
    transport = make_transport()
    screened, everything = Info(), Info()
    screened.filter_rule = NotificationFilter(  # type: ignore[attr-defined]
        publisher_id="^compute", event_type=r"^kit\.keep", payload={"state": "^active$"})
    listener = api.get_notification_listener(transport, [Target(topic=ntopic)],
                                             [screened, everything])
    with running_server(listener):
        compute = _notifier(api, make_transport(), ntopic, "compute.host1")
        compute.info({}, "kit.keep", {"state": "active"})
        compute.info({}, "kit.keep", {"state": "error"})
        compute.info({}, "kit.drop", {"state": "active"})
        compute.prepare(publisher_id="image.host1").info({}, "kit.keep", {"state": "active"})
        everything.recorder.wait_count(4, WAIT)
    assert [(e, p) for e, p, _ in screened.recorder.items] == [("kit.keep", {"state": "active"})]


def test_requeue_with_allow_requeue_redelivers(api, make_transport, ntopic):
    transport = make_transport()
    if not transport.capabilities.requeue:
        pytest.skip("driver cannot requeue")
    seen: set[str] = set()
    lock = threading.Lock()

    def requeue_first_time(metadata: dict[str, Any]) -> str:
        with lock:
            first = metadata["message_id"] not in seen
            seen.add(metadata["message_id"])
        return NotificationResult.REQUEUE if first else NotificationResult.HANDLED

    endpoint = Info(requeue_first_time)
    listener = api.get_notification_listener(transport, [Target(topic=ntopic)], [endpoint],
                                             allow_requeue=True)
    with running_server(listener):
        _notifier(api, make_transport(), ntopic).info({}, "kit.requeue", {"n": 1})
        got = endpoint.recorder.wait_count(2, WAIT)
    assert got[0][2] == got[1][2]  # the same notification, delivered twice


def test_exception_with_allow_requeue_redelivers(api, make_transport, ntopic):
    transport = make_transport()
    if not transport.capabilities.requeue:
        pytest.skip("driver cannot requeue")
    failed = threading.Event()

    def fail_first_time(metadata: dict[str, Any]) -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("kit: first delivery fails")

    endpoint = Info(fail_first_time)
    listener = api.get_notification_listener(transport, [Target(topic=ntopic)], [endpoint],
                                             allow_requeue=True)
    with running_server(listener):
        _notifier(api, make_transport(), ntopic).info({}, "kit.requeue", {"n": 1})
        got = endpoint.recorder.wait_count(2, WAIT)
    assert got[0][2] == got[1][2]


@pytest.mark.parametrize("how", ["requeue", "raise"])
def test_without_allow_requeue_notifications_are_acknowledged(api, make_transport, ntopic, how):
    transport = make_transport()

    def refuse(metadata: dict[str, Any]) -> str:
        if how == "raise":
            raise RuntimeError("kit: endpoint fails")
        return NotificationResult.REQUEUE

    endpoint = Info(refuse)
    listener = api.get_notification_listener(transport, [Target(topic=ntopic)], [endpoint])
    with running_server(listener):
        notifier = _notifier(api, make_transport(), ntopic)
        notifier.info({}, "kit.once", {"n": 0})
        for n in (1, 2):  # markers: a redelivery of kit.once would come before them
            notifier.info({}, "kit.marker", {"n": n})
            _wait(lambda n=n: any(p["n"] == n for _, p, _ in endpoint.recorder.items),
                  f"marker {n}")
    assert [e for e, _, _ in endpoint.recorder.items].count("kit.once") == 1


def test_listener_started_later_gets_stored_notifications(api, make_transport, ntopic):
    transport = make_transport()
    if not transport.capabilities.durable_notifications:
        pytest.skip("driver does not keep notifications sent before a listener exists")
    notifier = _notifier(api, make_transport(), ntopic)
    notifier.info({}, "kit.early", {"n": 0})
    notifier.error({}, "kit.early", {"n": 1})
    endpoint = Everything()
    listener = api.get_notification_listener(transport, [Target(topic=ntopic)], [endpoint])
    with running_server(listener):
        got = endpoint.recorder.wait_count(2, WAIT)
    assert sorted((priority, payload["n"]) for priority, _, _, payload, _ in got) == [
        ("error", 1), ("info", 0)]


def _wait(predicate: Callable[[], Any], what: str) -> None:
    from messaging.testing.helpers import wait_for

    wait_for(predicate, timeout=WAIT, message=what)
