"""``give_back_unsettled``: a listener's cleanup gives back what was taken and never settled."""

from __future__ import annotations

from messaging.incoming import NotificationMessage, give_back_unsettled
from messaging.settlement import DeliveryTracker


class Recorded(NotificationMessage):
    """A notification whose settlements on the bus are recorded."""

    def __init__(self, name: str, tracker: DeliveryTracker[NotificationMessage],
                 bus: list[tuple[str, bool]]) -> None:
        super().__init__({}, {"event_type": name}, tracker, unique_id=name)
        self.name = name
        self._bus = bus

    def _settle(self, requeue: bool) -> None:
        self._bus.append((self.name, requeue))


def test_only_the_unsettled_go_back_and_a_late_acknowledge_does_nothing():
    tracker: DeliveryTracker[NotificationMessage] = DeliveryTracker()
    bus: list[tuple[str, bool]] = []
    done, pending = Recorded("done", tracker, bus), Recorded("pending", tracker, bus)
    for message in (done, pending):
        tracker.track(message, message.unique_id)
    done.acknowledge()

    assert give_back_unsettled(tracker) == 1
    assert bus == [("done", False), ("pending", True)]

    pending.acknowledge()  # an executor thread finishing after cleanup
    assert bus == [("done", False), ("pending", True)]
    assert not tracker.is_duplicate("pending")  # given back: its redelivery is wanted
    assert give_back_unsettled(tracker) == 0
