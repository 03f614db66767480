"""Options from the URL query, oslo.config or a mapping; bad ones are named; TLS parameters."""

from __future__ import annotations

import logging
import ssl

import pytest
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
    pki = _self_signed(tmp_path)
    query = (f"ssl=1&ssl_ca_file={pki}&ssl_cert_file={pki}&ssl_key_file={pki}"
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
    with pytest.raises(InvalidTransportURL, match="RABBIT-CR-DEMO"):
        driver_cls(None, TransportURL.parse(
            "pika://h/?rabbit_login_method=RABBIT-CR-DEMO"))._client_connection()


def _self_signed(where) -> str:
    """A PEM file holding a throw-away key and its self-signed certificate."""
    import subprocess

    path = str(where / "self.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=self", "-keyout", path, "-out", path], check=True,
                   capture_output=True, timeout=60)
    return path


def test_tls_is_really_used(make_driver, vhost, topic, scheme):
    # The plain AMQP port cannot complete a TLS handshake: the send fails, naming TLS.
    driver = make_driver("ssl=1", url_=f"{scheme}://guest:guest@127.0.0.1:5672/{vhost}")
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


def test_passwords_never_reach_the_logs(make_driver, rmq, topic, caplog, scheme):
    url = f"{scheme}://guest:hush-hush@127.0.0.1:{rmq.free_port()}/"
    driver = make_driver(url_=url)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(MessageDeliveryFailure) as info:
            driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}}, retry=0)
        repr(driver.url)
    assert "hush-hush" not in caplog.text and "hush-hush" not in str(info.value)
