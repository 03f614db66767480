"""The URL and ``[oslo_messaging_amqp]`` options: honoured, or refused with a clear error."""

from __future__ import annotations

import pytest
from amqp1_broker import queue_names

import messaging
from messaging.testing.helpers import Recorder, running_server, wait_for


class Echo:
    def echo(self, ctxt, value):
        return value


@pytest.mark.parametrize("query, why", [
    ("bogus_option=1", "Unknown option 'bogus_option'"),
    ("rpc_server_credit=lots", "rpc_server_credit"),
    ("addressing_mode=qpid", "addressing_mode"),
    ("allow_insecure_clients=1", "listening-side"),
    ("pre_settled=rpc-call", "always sent unsettled"),
    ("connect_timeout=0", "connect_timeout must be positive"),
    ("sasl_config_name=x", "Cyrus SASL"),
])
def test_bad_or_refused_options_raise_invalid_transport_url(url, query, why):
    with pytest.raises(messaging.InvalidTransportURL, match=why) as info:
        messaging.get_transport(None, f"{url}?{query}")
    assert "guest:guest" not in str(info.value)


def test_options_come_from_a_conf_dict_and_the_query_wins(url):
    conf = {"oslo_messaging_amqp": {"rpc_server_credit": 7, "link_retry_delay": 3}}
    transport = messaging.get_transport(conf, f"{url}?link_retry_delay=0.5")
    try:
        assert transport.driver.settings.rpc_server_credit == 7
        assert transport.driver.settings.link_retry_delay == 0.5
    finally:
        transport.cleanup()


class Info:
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        return None


def test_a_listener_pool_is_refused_with_the_reason(transport, topic):
    assert not transport.capabilities.pools
    with pytest.raises(messaging.NotSupported, match="pools"):
        messaging.get_notification_listener(transport, [messaging.Target(topic=topic)],
                                            [Info()], pool="p1")
    with pytest.raises(messaging.NotSupported, match="bind a named queue"):
        transport.driver.listen_for_notifications([(messaging.Target(topic=topic), "info")],
                                                  pool="p1")


def test_forcing_the_legacy_profile_uses_its_addresses(make_transport, node, topic):
    transport = make_transport("addressing_mode=legacy")
    transport.cast(messaging.Target(topic=topic, server="s1"), {}, {"method": "m", "args": {}})
    # RabbitMQ reads a bare address as a queue name: the cast went to oslo's legacy address
    wait_for(lambda: f"exclusive.openstack.{topic}.s1" in queue_names(node), 10,
             message="the legacy address to be used")
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
    with pytest.raises(messaging.MessageDeliveryFailure, match=r"(?i)dynamic"):
        client.call({}, "echo", value=1)  # RabbitMQ has no dynamic reply nodes: fails at once


def test_rpc_server_credit_bounds_what_a_server_holds(make_transport, node, topic):
    transport = make_transport("rpc_server_credit=2")
    listener = transport.listen(messaging.Target(topic=topic, server="s1"))
    try:
        for n in range(6):
            transport.cast(messaging.Target(topic=topic), {}, {"method": "m", "args": {"n": n}})

        def counts() -> tuple[int, int] | None:
            for line in node.ctl("list_queues", "name", "messages_ready",
                                 "messages_unacknowledged", "--no-table-headers").splitlines():
                name, ready, unacked = line.split("\t")
                if name == f"openstack/{topic}":
                    return int(ready), int(unacked)
            return None

        wait_for(lambda: counts() == (4, 2), 10, message="2 held by the server, 4 ready")
        taken = listener.poll(timeout=5)
        taken[0].acknowledge()  # settling gives the credit back: one more comes
        wait_for(lambda: counts() == (3, 2), 10, message="the next one taken")
    finally:
        listener.cleanup()


def test_pre_settled_casts_are_sent_without_waiting_for_an_outcome(make_transport, topic):
    transport = make_transport("pre_settled=rpc-cast,rpc-reply")
    seen = Recorder()

    class Record:
        def note(self, ctxt, value):
            seen.add(value)

    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Record()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
        for n in range(5):
            client.cast({}, "note", value=n)
        assert sorted(seen.wait_count(5)) == [0, 1, 2, 3, 4]
