"""The AMQP 1.0 driver picks its address profile from the peer's ``open`` (or ``addressing_mode``).

``choose_profile`` reads what a broker announces (its ``product`` property and
whether it offers ``ANONYMOUS-RELAY``): RabbitMQ's plugin gets the RabbitMQ
profile, qpidd (or a peer naming no product) oslo's legacy addresses,
anything else (qdrouterd, ActiveMQ Artemis) oslo's routable addresses; a
forced ``addressing_mode`` wins over what the peer says. Pure functions:
no proton and no broker are needed.
"""

from __future__ import annotations

from typing import Any

import pytest
from messaging_amqp1.addressing import (
    LegacyProfile,
    RabbitMQProfile,
    RoutableProfile,
    Route,
    Source,
    choose_profile,
    open_hostname,
)
from messaging_amqp1.options import Settings, load_settings

from messaging.exceptions import InvalidTransportURL
from messaging.target import Target
from messaging.url import TransportURL

RELAY = ["ANONYMOUS-RELAY"]


class Symbol(str):
    """Proton hands keys and capabilities over as ``symbol`` (a ``str`` subclass)."""


def settings(query: str = "", conf: Any = None) -> Settings:
    url = TransportURL.parse(None, f"amqp://127.0.0.1:5672/{'?' + query if query else ''}")
    return load_settings(conf, url)


def choose(query: str = "", product: str | None = None, capabilities: Any = None,
           vhost: str | None = None) -> Any:
    props = None if product is None else {Symbol("product"): product}
    return choose_profile(settings(query), vhost, "openstack", props, capabilities)


# -- dynamic (the default): what the peer announces ---------------------------------------


@pytest.mark.parametrize("product", ["RabbitMQ", "rabbitmq"])
def test_rabbitmq_without_a_relay_gets_the_rabbitmq_profile(product):
    profile = choose(product=product, capabilities=[Symbol("LINK_DETACH_SEMANTICS")])
    assert isinstance(profile, RabbitMQProfile)
    assert profile.name == "rabbitmq" and not profile.dynamic_replies


def test_a_rabbitmq_that_offers_a_relay_is_not_taken_for_the_3x_plugin():
    profile = choose(product="RabbitMQ", capabilities=[Symbol("ANONYMOUS-RELAY")])
    assert isinstance(profile, RoutableProfile)
    assert profile.anonymous_relay


@pytest.mark.parametrize("props", [None, {}, {Symbol("product"): "qpid-cpp"},
                                   {Symbol("version"): "1.39"}])
def test_qpidd_or_an_unnamed_peer_gets_oslos_legacy_addresses(props):
    profile = choose_profile(settings(), None, "openstack", props, None)
    assert isinstance(profile, LegacyProfile)
    assert profile.name == "legacy" and profile.dynamic_replies
    assert not profile.anonymous_relay


@pytest.mark.parametrize("product", ["qpid-dispatch-router", "apache-activemq-artemis",
                                     "ActiveMQ"])
def test_other_peers_get_oslos_routable_addresses(product):
    profile = choose(product=product, capabilities=RELAY)
    assert isinstance(profile, RoutableProfile)
    assert profile.name == "routable" and profile.dynamic_replies
    assert profile.anonymous_relay


def test_the_relay_is_used_only_when_offered():
    relayed = choose(product="qpid-cpp", capabilities=[Symbol("ANONYMOUS-RELAY")])
    direct = choose(product="qpid-cpp", capabilities=[])
    target = Target(topic="t")
    assert relayed.request(target) == Route(None, to="unicast.openstack.t")
    assert direct.request(target) == Route("unicast.openstack.t", to="unicast.openstack.t")


# -- forced modes win over the announcement -----------------------------------------------


@pytest.mark.parametrize("mode, product, expected", [
    ("rabbitmq", "qpid-cpp", RabbitMQProfile),
    ("rabbitmq", None, RabbitMQProfile),
    ("legacy", "RabbitMQ", LegacyProfile),
    ("routable", "RabbitMQ", RoutableProfile),
    ("routable", "qpid-cpp", RoutableProfile),
    ("legacy", "qpid-dispatch-router", LegacyProfile),
])
def test_a_forced_addressing_mode_wins(mode, product, expected):
    profile = choose(f"addressing_mode={mode}", product=product)
    assert type(profile) is expected


def test_the_mode_comes_from_the_conf_and_the_url_query_wins():
    conf = {"oslo_messaging_amqp": {"addressing_mode": "legacy"}}
    assert settings(conf=conf).addressing_mode == "legacy"
    assert settings("addressing_mode=routable", conf=conf).addressing_mode == "routable"
    assert settings().addressing_mode == "dynamic"


def test_an_unknown_mode_is_refused_naming_the_option():
    with pytest.raises(InvalidTransportURL, match="addressing_mode"):
        settings("addressing_mode=qpid")


# -- what each profile makes of the same targets ------------------------------------------


def test_rabbitmq_addresses():
    profile = choose(product="RabbitMQ")
    assert profile.request(Target(topic="t")) == Route("/queue", subject="openstack/t")
    assert profile.request(Target(topic="t", server="s")) == \
        Route("/queue", subject="openstack/t.s")
    assert profile.request(Target(topic="t", fanout=True)) == \
        Route("/exchange/amq.topic", subject="t_fanout")
    assert profile.reply("reply_1") == Route("/queue", subject="reply_1")
    assert profile.notification(Target(topic="n.info")) == \
        Route("/queue/openstack%2Fn.info", declares=True)
    assert profile.rpc_server_sources(Target(topic="t", server="s")) == [
        Source("/queue/openstack%2Ft"), Source("/queue/openstack%2Ft.s"),
        Source("/exchange/amq.topic/t_fanout", temporary=True)]
    assert profile.reply_source("reply_1") == Source("/queue/reply_1", temporary=True)


def test_rabbitmq_exchanges_follow_target_then_option_then_control_exchange():
    profile = choose(product="RabbitMQ")
    assert profile.request(Target(topic="t", exchange="nova")).subject == "nova/t"
    opted = choose("default_rpc_exchange=rpcx&default_notification_exchange=nx",
                   product="RabbitMQ")
    assert opted.request(Target(topic="t")).subject == "rpcx/t"
    assert opted.notification(Target(topic="n.info")).link == "/queue/nx%2Fn.info"


def test_legacy_addresses_with_and_without_the_pseudo_vhost():
    profile = choose(product="qpid-cpp", vhost="vh")
    assert profile.request(Target(topic="t")).to == "unicast.vh.openstack.t"
    assert profile.request(Target(topic="t", server="s")).to == "exclusive.vh.openstack.t.s"
    assert profile.request(Target(topic="t", fanout=True)).to == "broadcast.vh.openstack.t.all"
    assert profile.notification(Target(topic="n.info")).to == "unicast.vh.openstack.n.info"
    assert profile.reply_source("ignored") == Source(None, dynamic=True, temporary=True)
    bare = choose("pseudo_vhost=false", product="qpid-cpp", vhost="vh")
    assert bare.request(Target(topic="t")).to == "unicast.openstack.t"


def test_legacy_prefixes_are_options():
    profile = choose("server_request_prefix=one&broadcast_prefix=all&group_request_prefix=any",
                     product="qpid-cpp")
    assert profile.request(Target(topic="t")).to == "any.openstack.t"
    assert profile.request(Target(topic="t", server="s")).to == "one.openstack.t.s"
    assert profile.request(Target(topic="t", fanout=True)).to == "all.openstack.t.all"


def test_routable_addresses():
    profile = choose(product="qpid-dispatch-router", capabilities=RELAY, vhost="vh")
    rpc = "openstack.org/om/rpc"
    assert profile.request(Target(topic="t")) == \
        Route(None, to=f"{rpc}/anycast/vh/openstack/t")
    assert profile.request(Target(topic="t", server="s")).to == f"{rpc}/unicast/vh/openstack/t/s"
    assert profile.request(Target(topic="t", fanout=True)).to == \
        f"{rpc}/multicast/vh/openstack/t"
    assert profile.notification(Target(topic="n.info")).to == \
        "openstack.org/om/notify/anycast/vh/openstack/n.info"
    assert profile.rpc_server_sources(Target(topic="t", server="s")) == [
        Source(f"{rpc}/anycast/vh/openstack/t"), Source(f"{rpc}/unicast/vh/openstack/t/s"),
        Source(f"{rpc}/multicast/vh/openstack/t")]


# -- the open frame's hostname ------------------------------------------------------------


@pytest.mark.parametrize("query, vhost, expected", [
    ("", None, None),
    ("", "vh", "vhost:vh"),  # dynamic: RabbitMQ's form (the peer is not known before open)
    ("addressing_mode=rabbitmq", "vh", "vhost:vh"),
    ("addressing_mode=legacy", "vh", None),  # the vhost is inside every address instead
    ("addressing_mode=routable&pseudo_vhost=false", "vh", "vh"),
])
def test_open_hostname(query, vhost, expected):
    assert open_hostname(settings(query), vhost) == expected
