"""RPCClient built directly logs oslo.messaging's warning; get_rpc_client does not."""

from __future__ import annotations

import logging
import uuid

import messaging

WARNING = ("Using RPCClient manually to instantiate client. Please use get_rpc_client to "
           "obtain an RPC client instance.")


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name.startswith("messaging")]


def test_a_directly_built_client_warns_as_oslo(caplog):
    with messaging.get_rpc_transport(None, f"fake:///{uuid.uuid4().hex}") as transport:
        with caplog.at_level(logging.WARNING):
            messaging.RPCClient(transport, messaging.Target(topic="t"))
    assert _warnings(caplog) == [WARNING]


def test_get_rpc_client_and_prepare_do_not_warn(caplog):
    with messaging.get_rpc_transport(None, f"fake:///{uuid.uuid4().hex}") as transport:
        with caplog.at_level(logging.WARNING):
            client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=3)
            client.prepare(server="s")
    assert _warnings(caplog) == []
    assert client.timeout == 3
