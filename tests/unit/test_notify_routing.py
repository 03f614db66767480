"""The routing notifier driver: YAML routes by event type and priority, and bad files."""

from __future__ import annotations

import logging
import textwrap
import uuid

import pytest

from messaging.notify import Notifier, NotifierDriverLoadFailure, RoutingConfigError
from messaging.notify.routing import RoutingDriver, load_routes
from messaging.transport import get_notification_transport

ROUTES = """\
group_1:
  test:
    accepted_events:
      - compute.instance.*
      - image.upload
  log:
    accepted_priorities:
      - error
      - CRITICAL
group_2:
  test:
    accepted_priorities: [audit]
  noop:
"""


def _write(tmp_path, text):
    path = tmp_path / "routing.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def _notifier(path, **kwargs):
    conf = {"oslo_messaging_notifications": {"routing_config": path}}
    transport = get_notification_transport(conf, "fake://")
    return transport, Notifier(transport, driver="routing", **kwargs)


@pytest.fixture
def routed(tmp_path):
    transport, notifier = _notifier(_write(tmp_path, ROUTES))
    try:
        yield notifier
    finally:
        transport.cleanup()


def _sent_to_test(notifier):
    routing = notifier.drivers["routing"]
    return [(m["event_type"], p) for _, m, p, _ in routing.drivers["test"].notifications]


def test_event_patterns_select_the_driver(routed, caplog):
    with caplog.at_level(logging.DEBUG, logger="oslo.messaging.notification"):
        routed.info({}, "compute.instance.create.end", {})
        routed.info({}, "image.upload", {})
        routed.info({}, "image.download", {})
        routed.info({}, "network.create", {})
    assert _sent_to_test(routed) == [("compute.instance.create.end", "INFO"),
                                     ("image.upload", "INFO")]
    assert not [r for r in caplog.records if r.name.startswith("oslo.messaging.notification.")]


def test_priority_patterns_are_case_insensitive(routed, caplog):
    with caplog.at_level(logging.DEBUG, logger="oslo.messaging.notification"):
        routed.error({}, "network.create", {})
        routed.critical({}, "network.delete", {})
        routed.warn({}, "network.update", {})
    logged = [r.name for r in caplog.records if r.name.startswith("oslo.messaging.notification.")]
    assert logged == ["oslo.messaging.notification.network.create",
                      "oslo.messaging.notification.network.delete"]
    assert _sent_to_test(routed) == []


def test_groups_are_independent_and_a_driver_gets_one_copy(routed):
    routed.audit({}, "compute.instance.exists", {})  # matches test in both groups
    routed.audit({}, "other", {})  # only group_2
    assert _sent_to_test(routed) == [("compute.instance.exists", "AUDIT"), ("other", "AUDIT")]


def test_all_rules_of_a_driver_must_match(tmp_path):
    path = _write(tmp_path, """\
        g:
          test:
            accepted_events: ["compute.*"]
            accepted_priorities: [info]
        """)
    transport, notifier = _notifier(path)
    with transport:
        notifier.info({}, "compute.x", {})
        notifier.error({}, "compute.y", {})
        notifier.info({}, "image.z", {})
        assert _sent_to_test(notifier) == [("compute.x", "INFO")]


def test_a_driver_without_rules_gets_everything(tmp_path):
    transport, notifier = _notifier(_write(tmp_path, "g:\n  test:\n"))
    with transport:
        notifier.sample({}, "anything", {})
        notifier.debug({}, "else", {})
        assert _sent_to_test(notifier) == [("anything", "SAMPLE"), ("else", "DEBUG")]


def test_routed_messaging_driver_sends_on_the_notifiers_topics(tmp_path):
    path = _write(tmp_path, "g:\n  messagingv2:\n    accepted_events: [a.*]\n")
    topic = f"routed_{uuid.uuid4().hex[:12]}"
    transport, notifier = _notifier(path, topics=[topic])
    with transport:
        sent = []
        orig = transport.notify
        transport.notify = lambda target, *a, **k: (sent.append(target.topic),  # type: ignore
                                                     orig(target, *a, **k))
        notifier.info({}, "a.b", {})
        notifier.info({}, "c.d", {})
        assert sent == [f"{topic}.info"]


def test_drivers_for_lists_file_order(routed):
    routing = routed.drivers["routing"]
    assert isinstance(routing, RoutingDriver)
    assert routing.drivers_for("compute.instance.x", "ERROR") == ["test", "log", "noop"]
    assert routing.drivers_for("x", "info") == ["noop"]


def test_a_failing_routed_driver_is_logged(routed, caplog):
    def boom(*args):
        raise RuntimeError("down")

    routed.drivers["routing"].drivers["test"].notify = boom
    with caplog.at_level(logging.ERROR):
        routed.info({}, "image.upload", {})
    assert "image.upload" in caplog.text and "'test'" in caplog.text


def test_empty_file_routes_nothing_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        transport, notifier = _notifier(_write(tmp_path, ""))
    with transport:
        notifier.info({}, "e", {})
        assert notifier.drivers["routing"].drivers == {}
    assert "empty" in caplog.text


@pytest.mark.parametrize(("text", "match"), [
    ("g: [1, 2", "not valid YAML"),
    ("- a\n- b\n", "must map group names"),
    ("g: test\n", "group 'g' must map driver names"),
    ("g:\n  test: [x]\n", "g.test must map rule names"),
    ("g:\n  test:\n    accepted_event: [x]\n", r"unknown rule.*accepted_event"),
    ("g:\n  test:\n    accepted_events: {a: b}\n", "list of patterns"),
    ("g:\n  nosuch:\n", r"nosuch.*installed notifier drivers"),
    ("g:\n  routing:\n", "routes to 'routing' itself"),
])
def test_bad_routing_files_fail_when_the_notifier_is_built(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(NotifierDriverLoadFailure, match=match) as e:
        _notifier(path)
    assert isinstance(e.value.ex, RoutingConfigError)
    assert path in str(e.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(NotifierDriverLoadFailure, match="cannot read routing file"):
        _notifier(str(tmp_path / "absent.yaml"))


def test_without_routing_config_the_notifier_builds_and_drops_with_an_error(caplog):
    with get_notification_transport(None, "fake://") as transport:
        with caplog.at_level(logging.ERROR, logger="messaging.notify.routing"):
            notifier = Notifier(transport, driver="routing")
        assert "routing_config" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            notifier.info({}, "compute.instance.create.end", {"id": 1})
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert "compute.instance.create.end" in errors[0].getMessage()
        assert "routing_config" in errors[0].getMessage()
        assert notifier.drivers["routing"].drivers == {}


def test_load_routes_accepts_a_single_pattern_string(tmp_path):
    [route] = load_routes(_write(tmp_path, "g:\n  log:\n    accepted_events: compute.*\n"))
    assert route.accepts("compute.x", "INFO") and not route.accepts("image.x", "INFO")
