"""The ``[oslo_messaging_zmq]`` options: defaults, URL query, refused oslo designs, checks.

No matchmaker service is needed: building a driver looks nothing up.
"""

from __future__ import annotations

import pytest
import zmq
from messaging_zmq.driver import ZmqDriver
from messaging_zmq.matchmaker.local import LocalMatchmaker
from messaging_zmq.matchmaker.redis import RedisMatchmaker
from messaging_zmq.options import GROUP, REFUSED_OPTIONS, load_settings

import messaging
from messaging.exceptions import InvalidTransportURL, ServerListenError
from messaging.url import TransportURL


def _settings(url: str = "zmq:///", conf=None):
    return load_settings(conf, TransportURL.parse(url))


def test_defaults_bind_loopback_and_use_the_local_matchmaker():
    settings = _settings()
    assert settings.rpc_zmq_bind_address == "127.0.0.1"
    assert settings.rpc_zmq_matchmaker == "local"
    assert (settings.zmq_target_expire, settings.zmq_target_update) == (30, 10)


def test_url_query_wins_over_configuration():
    conf = {GROUP: {"rpc_zmq_bind_address": "127.0.0.2", "zmq_target_expire": 60}}
    settings = _settings("zmq:///?zmq_target_expire=9&zmq_target_update=3", conf)
    assert settings.rpc_zmq_bind_address == "127.0.0.2"
    assert (settings.zmq_target_expire, settings.zmq_target_update) == (9, 3)


def test_oslo_deprecated_name_is_read():
    assert _settings(conf={GROUP: {"rpc_cast_timeout": 2}}).zmq_linger == 2


@pytest.mark.parametrize("query, needle", [
    ("bogus=1", "Unknown option 'bogus'"),
    ("zmq_target_expire=soon", "Bad value for option 'zmq_target_expire'"),
    ("zmq_target_expire=5&zmq_target_update=5", "must be longer than"),
    ("rpc_zmq_min_port=6000&rpc_zmq_max_port=5000", "rpc_zmq_min_port"),
    ("zmq_max_message_size=0", "zmq_max_message_size"),
    ("zmq_matchmaker_timeout=0", "zmq_matchmaker_timeout"),
])
def test_bad_options_are_refused_by_name(query, needle):
    with pytest.raises(InvalidTransportURL, match=needle):
        _settings(f"zmq:///?{query}")


@pytest.mark.parametrize("option", REFUSED_OPTIONS, ids=lambda o: o.name)
def test_oslo_designs_not_implemented_are_refused(option):
    other = {bool: not option.default, int: 4, str: "msgpack", list: ["h1"]}[option.type]
    with pytest.raises(InvalidTransportURL, match=f"{option.name}=.* is not supported"):
        _settings(conf={GROUP: {option.name: other}})
    assert _settings(conf={GROUP: {option.name: option.default}}).zmq_linger == 5


def test_scheme_suffix_selects_the_matchmaker():
    plain = messaging.get_rpc_transport(None, "zmq:///opts")
    with_redis = messaging.get_rpc_transport(None, "zmq+redis://127.0.0.1:6379/opts")
    try:
        assert isinstance(plain.driver, ZmqDriver) and isinstance(with_redis.driver, ZmqDriver)
        assert isinstance(plain.driver.matchmaker, LocalMatchmaker)
        assert isinstance(with_redis.driver.matchmaker, RedisMatchmaker)
        assert with_redis.driver.matchmaker.port == 6379
    finally:
        plain.cleanup()
        with_redis.cleanup()


def test_capabilities_say_at_most_once_and_no_broker():
    caps = ZmqDriver.capabilities
    assert (caps.rpc_delivery, caps.notification_delivery) == ("at-most-once", "at-most-once")
    assert not caps.requeue and not caps.durable_notifications and not caps.brokered
    assert caps.fanout and caps.competing_consumers and caps.pools and caps.call_monitor


def test_options_are_registered_with_oslo_config():
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    messaging.register_opts(conf)
    conf([])
    assert conf.oslo_messaging_zmq.rpc_zmq_bind_address == "127.0.0.1"
    conf.set_override("use_router_proxy", True, group=GROUP)
    with pytest.raises(InvalidTransportURL, match="use_router_proxy"):
        load_settings(conf, TransportURL.parse("zmq:///"))


def test_no_free_port_in_range_fails_listen_clearly():
    ctx = zmq.Context()
    blocker = ctx.socket(zmq.ROUTER)
    port = blocker.bind_to_random_port("tcp://127.0.0.1")
    transport = messaging.get_rpc_transport(
        None, f"zmq:///opts?rpc_zmq_min_port={port}&rpc_zmq_max_port={port + 1}"
              f"&rpc_zmq_bind_port_retries=3")
    try:
        with pytest.raises(ServerListenError, match=f"ports {port}-{port + 1}"):
            transport.listen(messaging.Target(topic="t", server="s"))
    finally:
        transport.cleanup()
        ctx.destroy(linger=0)
