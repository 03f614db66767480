"""Options come from oslo.config, a mapping, None, or the URL query."""

from __future__ import annotations

import pytest

from messaging import InvalidTransportURL
from messaging.options import Option, read_option, register_opts, resolve_options

OPTS = (
    Option("heartbeat", int, 60, "seconds"),
    Option("durable", bool, False, "durable queues"),
    Option("strategy", str, "round-robin", "failover", choices=("round-robin", "shuffle")),
    Option("hosts", list, [], "hosts"),
    Option("new_name", float, 1.0, "renamed", deprecated_names=("old_name",)),
)


def test_defaults_without_conf():
    assert resolve_options(None, "g", OPTS) == {"heartbeat": 60, "durable": False,
                                                "strategy": "round-robin", "hosts": [],
                                                "new_name": 1.0}


def test_mapping_conf_by_group_and_flat_default():
    conf = {"g": {"heartbeat": "10", "old_name": 2}, "control_exchange": "x"}
    values = resolve_options(conf, "g", OPTS)
    assert values["heartbeat"] == 10 and values["new_name"] == 2.0
    assert read_option(conf, "DEFAULT", Option("control_exchange", str, "o", "")) == "x"


def test_query_overrides_and_coerces():
    values = resolve_options({"g": {"heartbeat": 10}}, "g", OPTS,
                             query={"heartbeat": "5", "durable": "yes", "hosts": "a,b"})
    assert values["heartbeat"] == 5 and values["durable"] is True
    assert values["hosts"] == ["a", "b"]


def test_unknown_query_option_is_named():
    with pytest.raises(InvalidTransportURL, match="'bogus_option'"):
        resolve_options(None, "g", OPTS, query={"bogus_option": "1"})


@pytest.mark.parametrize("key, value", [("heartbeat", "abc"), ("durable", "maybe"),
                                        ("strategy", "random")])
def test_bad_query_value_is_named(key, value):
    with pytest.raises(InvalidTransportURL, match=repr(key)):
        resolve_options(None, "g", OPTS, query={key: value})


def test_oslo_config_is_read_only_when_registered():
    cfg = pytest.importorskip("oslo_config.cfg")
    conf = cfg.ConfigOpts()
    conf([])
    # nothing registered: defaults, and nothing is registered behind our back
    assert read_option(conf, "DEFAULT", Option("rpc_response_timeout", float, 60.0, "")) == 60.0
    assert "rpc_response_timeout" not in conf
    register_opts(conf)
    conf.set_override("rpc_response_timeout", 7)
    assert read_option(conf, "DEFAULT", Option("rpc_response_timeout", float, 60.0, "")) == 7.0


def test_only_the_conf_handed_over_gets_our_options():
    cfg = pytest.importorskip("oslo_config.cfg")
    import messaging

    before = set(cfg.CONF)
    mine = cfg.ConfigOpts()
    mine([])
    messaging.get_transport(mine, url="fake://").cleanup()
    assert set(cfg.CONF) == before  # never the global one behind the caller's back
    assert "transport_url" in mine and "oslo_messaging_notifications" in mine  # as oslo


def test_register_opts_includes_installed_drivers_tables():
    pytest.importorskip("oslo_config.cfg")
    import subprocess
    import sys

    # a fresh process: no driver module imported before register_opts
    code = ("from oslo_config import cfg; import messaging; c = cfg.ConfigOpts(); c([]);"
            "messaging.register_opts(c);"
            "print(c.oslo_messaging_rabbit.heartbeat_timeout_threshold,"
            " c.oslo_messaging_notifications.topics, c.rpc_response_timeout)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["60", "['notifications']", "60.0"]


def test_oslo_config_values_reach_the_rabbit_driver():
    cfg = pytest.importorskip("oslo_config.cfg")
    import messaging
    from messaging.options import all_option_groups, resolve_options

    conf = cfg.ConfigOpts()
    conf([])
    messaging.register_opts(conf)
    conf.set_override("rabbit_qos_prefetch_count", 7, group="oslo_messaging_rabbit")
    table = all_option_groups()["oslo_messaging_rabbit"]
    assert resolve_options(conf, "oslo_messaging_rabbit", table)["rabbit_qos_prefetch_count"] == 7
