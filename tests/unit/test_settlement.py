"""DeliveryTracker: settle once; ids remembered only when acknowledged; give back at cleanup."""

from __future__ import annotations

from messaging.settlement import DeliveryTracker


class Msg:
    pass


def test_only_the_first_settlement_counts():
    t: DeliveryTracker[Msg] = DeliveryTracker()
    m = Msg()
    t.track(m, "u1")
    assert t.settle(m, requeue=False)
    assert not t.settle(m, requeue=False)
    assert not t.settle(m, requeue=True)


def test_id_is_a_duplicate_only_after_acknowledgement():
    t: DeliveryTracker[Msg] = DeliveryTracker()
    m = Msg()
    t.track(m, "u1")
    assert not t.is_duplicate("u1"), "remembered on arrival: a redelivery would be lost"
    t.settle(m, requeue=False)
    assert t.is_duplicate("u1")


def test_requeued_id_is_not_a_duplicate():
    t: DeliveryTracker[Msg] = DeliveryTracker()
    m = Msg()
    t.track(m, "u1")
    t.settle(m, requeue=True)
    assert not t.is_duplicate("u1")


def test_forgotten_delivery_is_not_remembered():
    t: DeliveryTracker[Msg] = DeliveryTracker()
    m = Msg()
    t.track(m, "u1")
    t.forget(m)
    assert not t.is_duplicate("u1") and len(t) == 0


def test_take_unsettled_returns_each_once():
    t: DeliveryTracker[Msg] = DeliveryTracker()
    a, b, c = Msg(), Msg(), Msg()
    for i, m in enumerate((a, b, c)):
        t.track(m, f"u{i}")
    t.settle(b, requeue=False)
    assert set(t.take_unsettled()) == {a, c}
    assert t.take_unsettled() == []
    assert not t.settle(a, requeue=False)  # given back already: settling again does nothing


def test_window_is_bounded():
    t: DeliveryTracker[Msg] = DeliveryTracker(window=3)
    for i in range(5):
        m = Msg()
        t.track(m, f"u{i}")
        t.settle(m, requeue=False)
    assert not t.is_duplicate("u0") and not t.is_duplicate("u1")
    assert all(t.is_duplicate(f"u{i}") for i in (2, 3, 4))


def test_messages_without_ids_are_never_duplicates():
    t: DeliveryTracker[Msg] = DeliveryTracker()
    m = Msg()
    t.track(m, None)
    t.settle(m, requeue=False)
    assert not t.is_duplicate(None)
