"""Behaviour compared side by side with the installed oslo.messaging (no broker needed).

The same calls on both libraries give the same answers: URL text and
equality, Target equality, hashing and mutation, the log driver's logger.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import messaging
from messaging.notify.drivers import LogDriver


@pytest.fixture
def conf(oslo: Any) -> Any:
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf([])
    return conf


URL_CASES: list[tuple[str, str | None, list[tuple[Any, ...]], dict[str, str]]] = [
    ("rabbit", None, [], {}),
    ("rabbit", "", [], {}),
    ("rabbit", "/", [], {}),
    ("rabbit", "/leading", [("h", None, None, None)], {}),
    ("rabbit", "a/b", [("h", 5672, None, None)], {}),
    ("rabbit", "vh", [("h1", 5672, "u", "p@ss"), ("h2", 5673, "u2", "p:2")], {}),
    ("rabbit", "vh", [("::1", 5672, None, None)], {}),
    ("rabbit", "vh", [("h", None, "user", None)], {}),
    ("rabbit", "vh", [("h", None, None, "only-password")], {}),
    ("kombu", "vh", [("h", None, None, None)], {"ssl": "1", "heartbeat_timeout_threshold": "10"}),
    ("rabbit", "$", [("host", 1234, "u$", "p&")], {"a": "1,2"}),
]


@pytest.mark.parametrize("transport, vhost, hosts, query", URL_CASES)
def test_a_constructed_url_prints_as_oslos(oslo, conf, transport, vhost, hosts, query):
    theirs = oslo.TransportURL(conf, transport, vhost,
                               [oslo.TransportHost(*h) for h in hosts], query)
    ours = messaging.TransportURL(conf, transport, vhost,
                                  [messaging.TransportHost(*h) for h in hosts], query)
    assert str(ours) == str(theirs)


@pytest.mark.parametrize("url", [
    "rabbit://", "rabbit:///", "rabbit:////", "rabbit://h//vh", "rabbit://u:p@h:5672/v?x=1",
    "rabbit://a:1@h1,b:2@h2:5673/vh", "rabbit://[::1]:5672/", "rabbit://u%24:p%26@host:1234/%24",
])
def test_parse_then_print_as_oslo(oslo, conf, url):
    theirs = oslo.TransportURL.parse(conf, url)
    ours = messaging.TransportURL.parse(conf, url)
    assert str(ours) == str(theirs)
    assert (ours.transport, ours.virtual_host) == (theirs.transport, theirs.virtual_host)
    assert [(h.hostname, h.port, h.username, h.password) for h in ours.hosts] == [
        (h.hostname, h.port, h.username, h.password) for h in theirs.hosts]


def test_url_equality_ignores_the_query_in_both(oslo, conf):
    for lib in (oslo, messaging):
        a = lib.TransportURL.parse(conf, "rabbit://h/v?x=1")
        b = lib.TransportURL.parse(conf, "rabbit://h/v?x=2")
        assert a == b and hash(a) == hash(b), lib.__name__
        assert a != lib.TransportURL.parse(conf, "rabbit://h/w?x=1"), lib.__name__


def test_parse_without_a_url_reads_conf_in_both(oslo, conf):
    # nothing registered on conf: both libraries register transport_url themselves
    theirs = oslo.TransportURL.parse(conf)
    ours = messaging.TransportURL.parse(conf)
    assert str(ours) == str(theirs) == "rabbit:///"


def test_targets_compare_hash_and_change_as_oslos(oslo):
    for lib in (oslo, messaging):
        a = lib.Target(topic="t", server="s", version="1.1")
        b = lib.Target(topic="t", server="s", version="1.1")
        assert a == b and len({a, b}) == 2, lib.__name__
        keyed = {a: 1}
        a.server = "moved"
        a.version = "2.0"
        assert keyed[a] == 1 and a != b, lib.__name__
        assert a(server="x").server == "x" and a.server == "moved", lib.__name__
    assert repr(messaging.Target(topic="t", fanout=True, version="1.0")) == repr(
        oslo.Target(topic="t", fanout=True, version="1.0"))


def test_the_log_driver_logs_where_oslos_does(oslo, caplog):
    from oslo_messaging.notify._impl_log import LogDriver as OsloLogDriver

    assert LogDriver.LOGGER_BASE == OsloLogDriver.LOGGER_BASE
    message = {"event_type": "compute.instance.create.end", "priority": "INFO",
               "payload": {"id": 1}}
    with caplog.at_level(logging.INFO, logger=OsloLogDriver.LOGGER_BASE):
        OsloLogDriver(None, None, None).notify({}, message, "INFO", None)
        LogDriver(None).notify({}, message, "INFO", None)
    names = [r.name for r in caplog.records]
    assert names == ["oslo.messaging.notification.compute.instance.create.end"] * 2


@pytest.mark.parametrize("value", [object(), {"nested": object()}], ids=["object", "nested"])
def test_an_argument_json_cannot_carry_is_a_value_error_in_both(oslo, oslo_conf, value):
    """oslo raises ``ValueError`` ("to primitive"); ours is a ``SerializationError``, also one."""
    theirs = oslo.get_rpc_transport(oslo_conf, "fake://")
    ours = messaging.get_rpc_transport(None, "fake://")
    try:
        with pytest.raises(ValueError, match="primitive"):
            oslo.get_rpc_client(theirs, oslo.Target(topic="t")).cast({}, "m", value=value)
        with pytest.raises(messaging.SerializationError) as caught:
            messaging.get_rpc_client(ours, messaging.Target(topic="t")).cast({}, "m", value=value)
        assert isinstance(caught.value, ValueError)
    finally:
        theirs.cleanup()
        ours.cleanup()


def test_a_set_argument_is_accepted_by_both(oslo, oslo_conf):
    """oslo's ``to_primitive`` sends a set as a list, as our encoder does: neither refuses it."""
    theirs = oslo.get_rpc_transport(oslo_conf, "fake://")
    ours = messaging.get_rpc_transport(None, "fake://")
    try:
        assert oslo.get_rpc_client(theirs, oslo.Target(topic="t")).cast(
            {}, "m", value={1, 2}) is None
        assert messaging.get_rpc_client(ours, messaging.Target(topic="t")).cast(
            {}, "m", value={1, 2}) is None
    finally:
        theirs.cleanup()
        ours.cleanup()
