"""AsyncNotifier: the sync notifier's messages, sent through the drivers' futures."""

from __future__ import annotations

import asyncio
import logging
import textwrap
import threading
from concurrent.futures import Future
from typing import Any

import pytest

from messaging import AsyncNotifier, Target
from messaging.driver import Driver as TransportDriver
from messaging.exceptions import MessageDeliveryFailure
from messaging.notify.drivers import NotifierDriver
from messaging.transport import Transport, get_notification_transport
from messaging.url import TransportURL

PRIORITY_METHODS = [("audit", "AUDIT"), ("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARN"),
                    ("warning", "WARN"), ("error", "ERROR"), ("critical", "CRITICAL"),
                    ("sample", "SAMPLE")]


class FutureDriver(TransportDriver):
    """A transport driver with only the future form of notify, completed from a timer thread."""

    def __init__(self) -> None:
        super().__init__(None, TransportURL.parse("fake://"))
        self.sent: list[tuple[Target, dict[str, Any], float]] = []
        self.fail_topics: set[str] = set()

    def submit_notify(self, target, ctxt, message, *, version=2.0, retry=None):
        future: Future[None] = Future()

        def complete() -> None:
            if target.topic in self.fail_topics:
                future.set_exception(MessageDeliveryFailure(f"cannot reach {target.topic}"))
            else:
                self.sent.append((target, dict(message), version))
                future.set_result(None)

        threading.Timer(0.01, complete).start()
        return future

    def notify(self, *args, **kwargs):
        raise AssertionError("the async notifier used the synchronous verb")

    def call(self, *a, **k):
        raise NotImplementedError

    cast = listen = listen_for_notifications = call


def _transport() -> tuple[Transport, FutureDriver]:
    drv = FutureDriver()
    return Transport(drv, None), drv


@pytest.mark.parametrize(("method", "priority"), PRIORITY_METHODS)
def test_each_method_awaits_the_transports_future_for_its_priority(method, priority):
    transport, drv = _transport()
    notifier = AsyncNotifier(transport, "compute.host1", driver="messagingv2",
                             topics=["notif"])
    asyncio.run(getattr(notifier, method)({}, "compute.instance.create.end", {"id": 7}))
    [(target, message, version)] = drv.sent  # sent before the await returned
    assert target == Target(topic=f"notif.{priority.lower()}")
    assert message["priority"] == priority and message["publisher_id"] == "compute.host1"
    assert message["payload"] == {"id": 7} and version == 2.0


def test_a_failing_topic_is_logged_and_the_others_are_sent(caplog):
    transport, drv = _transport()
    drv.fail_topics = {"bad.info"}
    notifier = AsyncNotifier(transport, "p", driver="messaging", topics=["bad", "good"])
    with caplog.at_level(logging.ERROR):
        asyncio.run(notifier.info({}, "ev.one", {}))
    assert [(t.topic, v) for t, _, v in drv.sent] == [("good.info", 1.0)]
    assert "ev.one" in caplog.text and "bad.info" in caplog.text


def test_unserializable_payload_is_logged_not_raised(caplog):
    transport, drv = _transport()
    notifier = AsyncNotifier(transport, "p", driver="messagingv2", topics=["n"])
    with caplog.at_level(logging.ERROR):
        asyncio.run(notifier.info({}, "ev.bad", {"x": object()}))
    assert drv.sent == [] and "ev.bad" in caplog.text


def test_prepare_keeps_it_async_with_another_publisher():
    transport, drv = _transport()
    notifier = AsyncNotifier(transport, "p1", driver="messagingv2", topics=["n"])
    other = notifier.prepare(publisher_id="p2")
    assert isinstance(other, AsyncNotifier) and notifier.publisher_id == "p1"
    asyncio.run(other.error({}, "ev", {}))
    assert drv.sent[0][1]["publisher_id"] == "p2"


class Blocking(NotifierDriver):
    """A third-party driver with only a sync notify that blocks."""

    threads: list[str] = []
    fail = False

    def notify(self, ctxt, message, priority, retry):
        threading.Event().wait(0.05)
        Blocking.threads.append(threading.current_thread().name)
        if Blocking.fail:
            raise RuntimeError("third party down")


def test_a_sync_only_driver_runs_off_the_loop_and_its_failure_is_logged(caplog, monkeypatch):
    from messaging.notify import notifier as notifier_module

    monkeypatch.setattr(Blocking, "threads", [])
    monkeypatch.setattr(notifier_module, "load_drivers",
                        lambda names, conf, topics, transport: {"blocking": Blocking(conf)})
    transport, _ = _transport()
    notifier = AsyncNotifier(transport, "p", driver="blocking")

    async def scenario() -> None:
        await asyncio.gather(*(notifier.info({}, "ev", {"n": n}) for n in range(4)))
        monkeypatch.setattr(Blocking, "fail", True)
        with caplog.at_level(logging.ERROR):
            await notifier.info({}, "ev.failing", {})

    asyncio.run(scenario())
    assert len(Blocking.threads) == 5
    assert all(name.startswith("messaging-notify") for name in Blocking.threads)
    assert "'blocking'" in caplog.text and "ev.failing" in caplog.text


def test_in_memory_drivers_and_routing_work_from_async_code(tmp_path, caplog):
    path = tmp_path / "routing.yaml"
    path.write_text(textwrap.dedent("""\
        g:
          test:
            accepted_events: [keep.*]
          log:
            accepted_priorities: [error]
    """))
    conf = {"oslo_messaging_notifications": {"routing_config": str(path)}}
    transport = get_notification_transport(conf, "fake://")
    try:
        notifier = AsyncNotifier(transport, "p", driver=["routing", "test", "noop"])
        with caplog.at_level(logging.ERROR, logger="messaging.notification"):
            asyncio.run(notifier.error({}, "keep.this", {"k": 1}))
            asyncio.run(notifier.info({}, "drop.this", {}))
        routed = notifier.drivers["routing"].drivers["test"].notifications
        direct = notifier.drivers["test"].notifications
        assert [(m["event_type"], p) for _, m, p, _ in routed] == [("keep.this", "ERROR")]
        assert [m["event_type"] for _, m, _, _ in direct] == ["keep.this", "drop.this"]
        assert "keep.this" in caplog.text  # the log driver, routed at error
    finally:
        transport.cleanup()


def test_bus_sends_are_awaited_as_the_transports_own_futures() -> None:
    """One futures layer: no per-driver or per-notification future wraps the transport's."""
    from messaging.notify.drivers import start_each

    transport, drv = _transport()
    made: list[Future[None]] = []
    submit = transport.submit_notify

    def recording(*args: Any, **kwargs: Any) -> Future[None]:
        future = submit(*args, **kwargs)
        made.append(future)
        return future

    transport.submit_notify = recording  # type: ignore[method-assign]
    notifier = AsyncNotifier(transport, "p", driver="messagingv2", topics=["a", "b"])
    started = start_each(notifier._drivers.items(), {}, {"event_type": "e", "payload": {}},
                         "INFO", None)
    assert len(started) == 2
    assert all(f is m for f, m in zip(started, made, strict=True))
    for future in started:
        assert future.result(5) is None
    asyncio.run(notifier.info({}, "e2", {"x": 1}))
    # The two topics' sends run concurrently on the transport's pool: either may finish first.
    sent = sorted(t.topic for t, m, _v in drv.sent if m["event_type"] == "e2")
    assert sent == ["a.info", "b.info"]
