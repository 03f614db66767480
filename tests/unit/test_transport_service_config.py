"""A service's config file reaches the library as with oslo.messaging: no registration call.

oslo.config returns a file's value only for a registered option; oslo.messaging
registers its options on the ConfigOpts a service hands it. So must we, or a
service switching imports would silently use defaults (``rabbit://`` on
localhost) instead of its ``transport_url``.
"""

from __future__ import annotations

import uuid

import pytest

import messaging
from messaging.notify.drivers import get_test_notifications, reset_test_notifications

cfg = pytest.importorskip("oslo_config.cfg")


@pytest.fixture
def service_conf(tmp_path):
    vhost = f"svc-{uuid.uuid4().hex}"
    path = tmp_path / "service.conf"
    path.write_text(f"""
[DEFAULT]
transport_url = fake:///{vhost}
rpc_response_timeout = 7
control_exchange = service_exchange

[oslo_messaging_notifications]
driver = test
driver = messagingv2
topics = service_notifications
transport_url = fake:///{vhost}-notifications
""")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    return conf, vhost


def test_rpc_transport_follows_the_config_file(service_conf):
    conf, vhost = service_conf
    transport = messaging.get_rpc_transport(conf)
    try:
        assert transport.url.virtual_host == vhost
        assert transport.rpc_response_timeout == 7
        assert transport.driver.default_exchange == "service_exchange"
    finally:
        transport.cleanup()


def test_notification_transport_and_notifier_follow_the_config_file(service_conf):
    conf, vhost = service_conf
    reset_test_notifications()
    transport = messaging.get_notification_transport(conf)
    try:
        assert transport.url.virtual_host == f"{vhost}-notifications"
        notifier = messaging.Notifier(transport, "svc.host")
        notifier.info({}, "svc.started", {"ok": True})
        [(_ctxt, message, priority, _retry)] = get_test_notifications()
        assert (message["event_type"], priority) == ("svc.started", "INFO")
        assert list(notifier.drivers) == ["test", "messagingv2"]  # one per line, as oslo
        listener = transport.listen_for_notifications(
            [(messaging.Target(topic="service_notifications"), "info")])
        try:
            [received] = listener.poll(timeout=5)
            assert received.message["event_type"] == "svc.started"
            received.acknowledge()
        finally:
            listener.cleanup()
    finally:
        transport.cleanup()


def test_set_transport_defaults_applies_to_registered_options(tmp_path):
    path = tmp_path / "bare.conf"
    path.write_text(f"[DEFAULT]\ntransport_url = fake:///{uuid.uuid4().hex}\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(path)])
    messaging.set_transport_defaults("nova")
    try:
        transport = messaging.get_rpc_transport(conf)
        assert transport.driver.default_exchange == "nova"
        transport.cleanup()
        conf.set_override("control_exchange", "explicit")
        transport = messaging.get_rpc_transport(conf)
        assert transport.driver.default_exchange == "explicit"
        transport.cleanup()
    finally:
        messaging.set_transport_defaults("openstack")
