"""Drivers load by URL scheme through entry points; unknown schemes are explained."""

from __future__ import annotations

import pytest

import messaging
from messaging.transport import installed_drivers


def test_fake_driver_loads_through_entry_point():
    with messaging.get_transport(None, "fake://") as transport:
        assert type(transport.driver).__module__.startswith("messaging_fake")
        assert isinstance(transport, messaging.RPCTransport)


def test_core_imports_no_driver():
    import subprocess
    import sys

    code = ("import sys, messaging; messaging.TransportURL.parse('fake://');"
            "print(sorted(m for m in sys.modules if m.startswith('messaging_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_unknown_scheme_lists_installed_and_suggests():
    with pytest.raises(messaging.DriverLoadFailure) as info:
        messaging.get_transport(None, "rabit://localhost")
    text = str(info.value)
    assert "rabit" in text and "fake" in text and "Did you mean 'rabbit'" in text


def test_bad_url_raises_invalid_transport_url():
    with pytest.raises(messaging.InvalidTransportURL):
        messaging.get_transport(None, "fake://h:port/")


def test_url_from_conf_mapping():
    with messaging.get_rpc_transport({"transport_url": "fake:///from-conf"}) as t:
        assert t.url.virtual_host == "from-conf"


def test_notification_transport_prefers_its_own_url():
    conf = {"transport_url": "fake:///rpc",
            "oslo_messaging_notifications": {"transport_url": "fake:///notify"}}
    with messaging.get_notification_transport(conf) as t:
        assert isinstance(t, messaging.NotificationTransport)
        assert t.url.virtual_host == "notify"


def test_response_timeout_from_conf():
    with messaging.get_transport({"rpc_response_timeout": 5}, "fake://") as t:
        assert t.rpc_response_timeout == 5.0


def test_set_transport_defaults_changes_default_exchange():
    messaging.set_transport_defaults("my_exchange")
    try:
        with messaging.get_transport(None, "fake://") as t:
            assert t.driver.default_exchange == "my_exchange"
        with messaging.get_transport({"control_exchange": "conf_wins"}, "fake://") as t:
            assert t.driver.default_exchange == "conf_wins"
    finally:
        messaging.set_transport_defaults("openstack")


def test_installed_drivers_lists_builtin_schemes():
    schemes = {d.scheme for d in installed_drivers()}
    assert {"fake", "rabbit", "kombu"} <= schemes
