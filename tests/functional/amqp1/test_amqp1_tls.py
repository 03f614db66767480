"""``amqps://``: TLS with a CA, a client certificate and host name checking.

A node of this module's own listens on TLS only and requires a client
certificate; the certificates are made with the ``openssl`` command.
"""

from __future__ import annotations

import os
import shutil
import ssl
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from amqp1_broker import Amqp1Node
from rabbitmq_local import make_pki

import messaging
from messaging.testing.helpers import running_server
from messaging.testing.plugin import skip_or_fail


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Amqp1Node, dict]]:
    if shutil.which("openssl") is None:
        skip_or_fail("needs openssl to make certificates")
    if not os.path.exists(Amqp1Node.SERVER):
        skip_or_fail(f"{Amqp1Node.SERVER} not found")
    from proton import SSL

    if not SSL.present():
        skip_or_fail("python-qpid-proton was built without SSL (needs libssl-dev, pkg-config)")
    pki = make_pki(str(tmp_path_factory.mktemp("pki")))
    node = Amqp1Node(tls={"ca": pki["ca.pem"], "cert": pki["server.pem"],
                          "key": pki["server.key"]})
    try:
        node.start(ssl={"ca_certs": pki["ca.pem"], "cert_reqs": ssl.CERT_REQUIRED,
                        "certfile": pki["client.pem"], "keyfile": pki["client.key"],
                        "server_hostname": "localhost"})
        yield node, pki
    finally:
        node.destroy()


def _url(node: Amqp1Node, pki: dict[str, str], ca: str, scheme: str = "amqps") -> str:
    query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in {
        "ssl_ca_file": pki[ca], "ssl_cert_file": pki["client.pem"],
        "ssl_key_file": pki["client.key"]}.items())
    return f"{scheme}://guest:guest@localhost:{node.port}/?{query}"


class Echo:
    def echo(self, ctxt, value):
        return value


def test_rpc_and_notifications_over_tls(tls_node, make_transport, topic):
    node, pki = tls_node
    transport = make_transport(url_=_url(node, pki, "ca.pem"))
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=20)
        assert client.call({}, "echo", value="over tls") == "over tls"
    transport.notify(messaging.Target(topic=f"{topic}.info"), {}, {"priority": "INFO"})


def test_ssl_option_selects_tls_on_the_amqp_scheme(tls_node, make_transport, topic):
    """The node listens on TLS only: a call answered over ``amqp://...&ssl=1`` went over TLS."""
    node, pki = tls_node
    transport = make_transport(url_=_url(node, pki, "ca.pem", scheme="amqp") + "&ssl=1")
    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                      [Echo()])
    with running_server(server):
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=20)
        assert client.call({}, "echo", value="amqp with ssl=1") == "amqp with ssl=1"


def test_a_broker_certificate_from_another_ca_is_refused_at_once(tls_node, make_transport,
                                                                  topic):
    node, pki = tls_node
    transport = make_transport(url_=_url(node, pki, "other.pem"))
    with pytest.raises(messaging.MessageDeliveryFailure, match=r"(?i)certificate verify failed"):
        transport.cast(messaging.Target(topic=topic), {}, {"method": "m", "args": {}})
