"""``messaging.conffixture.ConfFixture`` as OpenStack unit tests use it."""

from __future__ import annotations

import uuid

import pytest

import messaging
from messaging.conffixture import ConfFixture
from messaging.notify.drivers import get_test_notifications, reset_test_notifications
from messaging.testing.helpers import running_server

cfg = pytest.importorskip("oslo_config.cfg")


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    conf([])
    return conf


@pytest.fixture
def fixture(conf):
    fixture = ConfFixture(conf)
    fixture.setUp()
    yield fixture
    fixture.cleanUp()


def test_it_is_a_fixtures_fixture():
    fixtures = pytest.importorskip("fixtures")
    assert issubclass(ConfFixture, fixtures.Fixture)


def test_every_option_group_is_registered(conf):
    ConfFixture(conf)
    assert conf.transport_url == "rabbit://"
    assert conf.rpc_response_timeout == 60
    assert conf.oslo_messaging_notifications.topics == ["notifications"]
    assert conf.oslo_messaging_rabbit.heartbeat_timeout_threshold == 60


def test_transport_url_fake_drives_rpc(fixture, conf):
    fixture.transport_url = f"fake:///{uuid.uuid4().hex}"
    assert conf.transport_url == fixture.transport_url

    class Endpoint:
        def echo(self, ctxt, value):
            return value

    transport = messaging.get_rpc_transport(conf)
    try:
        assert transport.url.scheme == "fake"
        server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                          [Endpoint()])
        with running_server(server):
            client = messaging.get_rpc_client(transport, messaging.Target(topic="t"))
            assert client.call({}, "echo", value=42) == 42
    finally:
        transport.cleanup()


def test_oslo_fake_url_spelling(conf):
    ConfFixture(conf, transport_url="fake:/")
    transport = messaging.get_rpc_transport(conf)
    assert transport.url.scheme == "fake"
    transport.cleanup()


def test_response_timeout_bounds_calls(fixture, conf):
    fixture.transport_url = f"fake:///{uuid.uuid4().hex}"
    fixture.response_timeout = 0.2
    assert fixture.response_timeout == 0.2
    transport = messaging.get_rpc_transport(conf)
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic="nobody"))
        with pytest.raises(messaging.MessagingTimeout):
            client.call({}, "ping")
    finally:
        transport.cleanup()


def test_old_notification_option_names_are_translated(fixture, conf):
    conf.set_override("notification_driver", ["test"])
    conf.set_override("notification_topics", ["old_topics"])
    conf.set_override("notification_transport_url", f"fake:///{uuid.uuid4().hex}")
    assert conf.oslo_messaging_notifications.driver == ["test"]
    assert conf.oslo_messaging_notifications.topics == ["old_topics"]
    reset_test_notifications()
    transport = messaging.get_notification_transport(conf)
    try:
        messaging.Notifier(transport, "p").info({}, "e", {"x": 1})
    finally:
        transport.cleanup()
    [(_ctxt, message, priority, _retry)] = get_test_notifications()
    assert (message["event_type"], priority) == ("e", "INFO")
    conf.clear_override("notification_driver")
    assert conf.oslo_messaging_notifications.driver == []


def test_cleanup_resets_overrides_and_unwraps(conf):
    original = conf.set_override
    fixture = ConfFixture(conf)
    fixture.setUp()
    fixture.transport_url = "fake:/"
    conf.set_override("driver", ["test"], group="oslo_messaging_notifications")
    fixture.cleanUp()
    assert conf.transport_url == "rabbit://"
    assert conf.oslo_messaging_notifications.driver == []
    assert not hasattr(conf.set_override, "wrapped")
    assert conf.set_override == original


def test_usable_as_a_context_manager(conf):
    with ConfFixture(conf) as fixture:
        fixture.response_timeout = 3
        assert conf.rpc_response_timeout == 3
    assert conf.rpc_response_timeout == 60
