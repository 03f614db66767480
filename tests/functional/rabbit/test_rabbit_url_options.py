"""Options from the URL query, oslo.config or a mapping; bad ones are named; TLS parameters."""

from __future__ import annotations

import ssl

import pytest
from oslo_config import cfg
from rabbitmq_local import make_pki

from messaging.exceptions import InvalidTransportURL
from messaging.options import register_opts
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
def test_a_bad_query_option_is_named(query, named, scheme, driver_cls):
    with pytest.raises(InvalidTransportURL, match=named) as info:
        driver_cls(None, TransportURL.parse(f"{scheme}://u:secret@h:5672/v?{query}"))
    assert "secret" not in str(info.value)


def test_options_come_from_oslo_config_and_the_query_wins(scheme, driver_cls):
    conf = cfg.ConfigOpts()
    register_opts(conf, groups=["oslo_messaging_rabbit"])
    conf([])
    conf.set_override("rabbit_qos_prefetch_count", 5, group="oslo_messaging_rabbit")
    conf.set_override("heartbeat_timeout_threshold", 10, group="oslo_messaging_rabbit")
    driver = driver_cls(conf, TransportURL.parse(
        f"{scheme}://h/?heartbeat_timeout_threshold=7"))
    assert driver.settings.rabbit_qos_prefetch_count == 5
    assert driver.settings.heartbeat_timeout_threshold == 7
    driver.cleanup()


def test_options_come_from_a_mapping_with_oslos_old_names(scheme, driver_cls):
    conf = {"oslo_messaging_rabbit": {"kombu_reconnect_timeout": 12, "amqp_auto_delete": "1"}}
    driver = driver_cls(conf, TransportURL.parse(f"{scheme}://h/"))
    assert driver.settings.kombu_missing_consumer_retry_timeout == 12
    assert driver.settings.amqp_auto_delete is True
    driver.cleanup()


@pytest.mark.amqp091_driver("rabbit")
def test_tls_parameters_as_oslo_builds_them(scheme, driver_cls):
    query = ("ssl=1&ssl_ca_file=/ca.pem&ssl_cert_file=/c.pem&ssl_key_file=/k.pem"
             "&ssl_version=tlsv1_2&rabbit_login_method=PLAIN")
    driver = driver_cls(None, TransportURL.parse(
        f"rabbit://u:p@broker1:5671/v?{query}"))
    conn = driver._client_connection()
    kwargs = conn._connection_kwargs(TransportHost("broker1", 5671, "u", "p"))
    assert kwargs["ssl"] == {"ca_certs": "/ca.pem", "cert_reqs": ssl.CERT_REQUIRED,
                             "certfile": "/c.pem", "keyfile": "/k.pem",
                             "server_hostname": "broker1",
                             "ssl_version": ssl.PROTOCOL_TLSv1_2}
    assert kwargs["login_method"] == "PLAIN" and kwargs["port"] == 5671
    assert kwargs["transport"] == "pyamqp" and kwargs["virtual_host"] == "v"
    driver.cleanup()
    plain = driver_cls(None, TransportURL.parse("rabbit://h/?ssl=true"))
    assert plain._client_connection()._ssl_params(TransportHost("h")) is True
    plain.cleanup()


@pytest.mark.amqp091_driver("pika")
def test_pika_connection_parameters_from_the_options(scheme, driver_cls, tmp_path):
    pki = make_pki(str(tmp_path))
    query = (f"ssl=1&ssl_ca_file={pki['ca.pem']}&ssl_cert_file={pki['client.pem']}"
             f"&ssl_key_file={pki['client.key']}"
             "&ssl_version=tlsv1_2&heartbeat_timeout_threshold=7&connect_timeout=3")
    driver = driver_cls(None, TransportURL.parse(f"pika://u:p@broker1:5671/v?{query}"))
    params = driver._client_connection()._parameters(TransportHost("broker1", 5671, "u", "p"))
    assert (params.host, params.port, params.virtual_host) == ("broker1", 5671, "v")
    assert (params.credentials.username, params.credentials.password) == ("u", "p")
    assert params.heartbeat == 7 and params.socket_timeout == 3
    assert params.client_properties["connection_name"] == driver._client.name
    context = params.ssl_options.context
    assert params.ssl_options.server_hostname == "broker1"
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.protocol == ssl.PROTOCOL_TLSv1_2
    driver.cleanup()
    plain = driver_cls(None, TransportURL.parse("pika://h/?ssl=true"))
    context = plain._client_connection()._parameters(TransportHost("h")).ssl_options.context
    assert context.verify_mode == ssl.CERT_NONE  # no CA given: not verified, as oslo
    plain.cleanup()


@pytest.mark.amqp091_driver("pika")
def test_pika_refuses_rabbit_cr_demo_when_the_transport_is_built(scheme, driver_cls):
    import messaging

    url = "pika://u:secret@h/?rabbit_login_method=RABBIT-CR-DEMO"
    with pytest.raises(InvalidTransportURL, match="RABBIT-CR-DEMO is not supported") as info:
        driver_cls(None, TransportURL.parse(url))
    assert "secret" not in str(info.value)
    with pytest.raises(InvalidTransportURL, match="RABBIT-CR-DEMO"):
        messaging.get_rpc_transport(None, url)
