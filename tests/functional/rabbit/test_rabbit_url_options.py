"""Options from the URL query, oslo.config or a mapping; bad ones are named; TLS parameters."""

from __future__ import annotations

import logging
import ssl

import pytest
from messaging_rabbit.driver import RabbitDriver
from oslo_config import cfg

from messaging.exceptions import InvalidTransportURL, MessageDeliveryFailure
from messaging.options import register_opts
from messaging.target import Target
from messaging.url import TransportHost, TransportURL

pytestmark = pytest.mark.rabbit


@pytest.mark.parametrize("query, named", [
    ("bogus_option=1", "bogus_option"),
    ("heartbeat_timeout_threshold=abc", "heartbeat_timeout_threshold"),
    ("kombu_failover_strategy=random", "kombu_failover_strategy"),
    ("amqp_durable_queues=maybe", "amqp_durable_queues"),
    ("ssl=1&ssl_version=tlsv9", "tlsv9"),
    ("rabbit_ha_queues=1&rabbit_quorum_queue=1", "rabbit_quorum_queue"),
])
def test_a_bad_query_option_is_named(query, named):
    with pytest.raises(InvalidTransportURL, match=named) as info:
        RabbitDriver(None, TransportURL.parse(f"rabbit://u:secret@h:5672/v?{query}"))
    assert "secret" not in str(info.value)


def test_options_come_from_oslo_config_and_the_query_wins():
    conf = cfg.ConfigOpts()
    register_opts(conf, groups=["oslo_messaging_rabbit"])
    conf([])
    conf.set_override("rabbit_qos_prefetch_count", 5, group="oslo_messaging_rabbit")
    conf.set_override("heartbeat_timeout_threshold", 10, group="oslo_messaging_rabbit")
    driver = RabbitDriver(conf, TransportURL.parse("rabbit://h/?heartbeat_timeout_threshold=7"))
    assert driver.settings.rabbit_qos_prefetch_count == 5
    assert driver.settings.heartbeat_timeout_threshold == 7
    driver.cleanup()


def test_options_come_from_a_mapping_with_oslos_old_names():
    conf = {"oslo_messaging_rabbit": {"kombu_reconnect_timeout": 12, "amqp_auto_delete": "1"}}
    driver = RabbitDriver(conf, TransportURL.parse("rabbit://h/"))
    assert driver.settings.kombu_missing_consumer_retry_timeout == 12
    assert driver.settings.amqp_auto_delete is True
    driver.cleanup()


def test_tls_parameters_as_oslo_builds_them(tmp_path):
    query = ("ssl=1&ssl_ca_file=/ca.pem&ssl_cert_file=/c.pem&ssl_key_file=/k.pem"
             "&ssl_version=tlsv1_2&rabbit_login_method=PLAIN")
    driver = RabbitDriver(None, TransportURL.parse(f"rabbit://u:p@broker1:5671/v?{query}"))
    conn = driver._client_connection()
    kwargs = conn._connection_kwargs(TransportHost("broker1", 5671, "u", "p"))
    assert kwargs["ssl"] == {"ca_certs": "/ca.pem", "cert_reqs": ssl.CERT_REQUIRED,
                             "certfile": "/c.pem", "keyfile": "/k.pem",
                             "server_hostname": "broker1",
                             "ssl_version": ssl.PROTOCOL_TLSv1_2}
    assert kwargs["login_method"] == "PLAIN" and kwargs["port"] == 5671
    assert kwargs["transport"] == "pyamqp" and kwargs["virtual_host"] == "v"
    driver.cleanup()
    plain = RabbitDriver(None, TransportURL.parse("rabbit://h/?ssl=true"))
    assert plain._client_connection()._ssl_params(TransportHost("h")) is True
    plain.cleanup()


def test_tls_is_really_used(make_driver, vhost, topic):
    # The plain AMQP port cannot complete a TLS handshake: the send fails, naming TLS.
    driver = make_driver("ssl=1", url_=f"rabbit://guest:guest@127.0.0.1:5672/{vhost}")
    with pytest.raises(MessageDeliveryFailure, match=r"(?i)ssl|tls|eof|reset|closed"):
        driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}}, retry=0)


def test_a_url_without_hosts_means_guest_on_localhost(make_driver, serve, vhost, topic):
    driver = make_driver(url_=f"rabbit:///{vhost}")
    serve(driver.listen(Target(topic=topic, server="s1")), lambda m: "local")
    assert driver.call(Target(topic=topic), {}, {"method": "m", "args": {}},
                       timeout=10).result == "local"


def test_prefetch_and_login_method_reach_the_broker(make_driver, rmq, topic):
    driver = make_driver("rabbit_qos_prefetch_count=3&rabbit_login_method=PLAIN")
    driver.listen(Target(topic=topic, server="s1"))
    rows = rmq.ctl_json("list_consumers", "queue_name", "prefetch_count", vhost=rmq.vhost)
    assert {r["prefetch_count"] for r in rows if r["queue_name"] in (topic, f"{topic}.s1")} \
        == {3}


def test_passwords_never_reach_the_logs(make_driver, rmq, topic, caplog):
    url = f"rabbit://guest:hush-hush@127.0.0.1:{rmq.free_port()}/"
    driver = make_driver(url_=url)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(MessageDeliveryFailure) as info:
            driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}}, retry=0)
        repr(driver.url)
    assert "hush-hush" not in caplog.text and "hush-hush" not in str(info.value)
