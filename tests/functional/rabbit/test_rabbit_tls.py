"""TLS end to end: ``ssl=1`` with a CA, a client certificate and hostname checking.

A private node listens on TLS only and requires a client certificate; the
certificates are made with the ``openssl`` command for this module.
"""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from rabbitmq_local import make_pki

from messaging.exceptions import MessageDeliveryFailure
from messaging.target import Target
from messaging.testing.plugin import skip_or_fail

pytestmark = pytest.mark.rabbit


@pytest.fixture(scope="module")
def tls_node(vhost: str, tmp_path_factory: pytest.TempPathFactory, private_node_class: Any,
             ) -> Iterator[tuple[Any, dict[str, str]]]:
    if shutil.which("openssl") is None:
        skip_or_fail("needs openssl to make certificates")
    pki = make_pki(str(tmp_path_factory.mktemp("pki")))
    node = private_node_class(vhost, tls={"ca": pki["ca.pem"], "cert": pki["server.pem"],
                                   "key": pki["server.key"]})
    try:
        node.start(ssl={"ca_certs": pki["ca.pem"], "cert_reqs": ssl.CERT_REQUIRED,
                        "certfile": pki["client.pem"], "keyfile": pki["client.key"],
                        "server_hostname": "localhost"})
        yield node, pki
    finally:
        node.destroy()


def _url(scheme: str, node: Any, vhost: str, pki: dict[str, str], ca: str) -> str:
    query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in {
        "ssl": "1", "ssl_ca_file": pki[ca], "ssl_cert_file": pki["client.pem"],
        "ssl_key_file": pki["client.key"]}.items())
    return f"{scheme}://guest:guest@localhost:{node.port}/{vhost}?{query}"


def test_rpc_over_tls_with_a_client_certificate(tls_node, make_driver, serve, vhost, topic,
                                                scheme):
    node, pki = tls_node
    driver = make_driver(url_=_url(scheme, node, vhost, pki, "ca.pem"))
    serve(driver.listen(Target(topic=topic, server="s1")), lambda m: "over tls")
    assert driver.call(Target(topic=topic), {}, {"method": "m", "args": {}},
                       timeout=20).result == "over tls"
    driver.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO"})


def test_a_broker_certificate_from_another_ca_is_refused_at_once(tls_node, make_driver, vhost,
                                                                  topic, scheme):
    node, pki = tls_node
    driver = make_driver(url_=_url(scheme, node, vhost, pki, "other.pem"))
    with pytest.raises(MessageDeliveryFailure, match=r"(?i)certificate verify failed"):
        driver.cast(Target(topic=topic), {}, {"method": "m", "args": {}})
