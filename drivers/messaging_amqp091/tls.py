"""TLS settings shared by both AMQP 0-9-1 drivers (``ssl``, ``ssl_version``, the PEM files)."""

from __future__ import annotations

import ssl
from typing import Any

from messaging.exceptions import InvalidTransportURL

from .options import Settings

__all__ = ["ssl_context", "ssl_protocol"]

_SSL_VERSIONS = {"tlsv1": "PROTOCOL_TLSv1", "tlsv1_1": "PROTOCOL_TLSv1_1",
                 "tlsv1_2": "PROTOCOL_TLSv1_2", "sslv23": "PROTOCOL_SSLv23",
                 "tls": "PROTOCOL_TLS", "tls_client": "PROTOCOL_TLS_CLIENT"}


def ssl_protocol(settings: Settings, shown_url: str) -> Any:
    """The ``ssl`` module constant for ``ssl_version`` (None: negotiate).

    Raises ``InvalidTransportURL`` for a version this Python does not have.
    """
    if not (settings.ssl and settings.ssl_version):
        return None
    attr = _SSL_VERSIONS.get(settings.ssl_version.lower())
    if attr is None or not hasattr(ssl, attr):
        raise InvalidTransportURL(shown_url, f"Invalid SSL version: {settings.ssl_version}")
    return getattr(ssl, attr)


def ssl_context(settings: Settings, protocol: Any) -> ssl.SSLContext:
    """An ``SSLContext`` as oslo.messaging builds its TLS parameters.

    With ``ssl_ca_file`` the broker's certificate must verify against it and
    match the host name; without it the broker is not verified (oslo's
    behaviour). ``ssl_cert_file``/``ssl_key_file`` give a client certificate.
    """
    if protocol is None:
        protocol = ssl.PROTOCOL_TLS_CLIENT
    context = ssl.SSLContext(protocol)
    if settings.ssl_ca_file:
        context.load_verify_locations(cafile=settings.ssl_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.ssl_cert_file:
        context.load_cert_chain(settings.ssl_cert_file, settings.ssl_key_file or None)
    return context
