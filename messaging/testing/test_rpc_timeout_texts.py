"""Kit: a call's timeout says where to look (drivers declaring ``counts_listeners``).

Three cases, three texts: the bus did not accept the request (brokered
drivers with ``testing.unreachable_url()``), no server is listening (none
ever did, or the only one stopped), and a server took the request but never
answered.
"""

from __future__ import annotations

import threading

import pytest

import messaging
from messaging.testing.helpers import running_server
from messaging.transport import get_rpc_transport

NO_SERVER = "no server is listening on it"
SILENT = "so the server never answered"
NOT_ACCEPTED = "the bus did not accept the request"


@pytest.fixture(autouse=True)
def _needs_the_capability(transport):
    if not transport.capabilities.counts_listeners:
        pytest.skip("driver does not declare counts_listeners")


class Stuck:
    def __init__(self) -> None:
        self.release = threading.Event()

    def hang(self, ctxt):
        self.release.wait(30)


def _timeout_text(api, transport, target, timeout=3.0) -> str:
    client = api.get_rpc_client(transport, target, timeout=timeout)
    with pytest.raises(messaging.MessagingTimeout) as info:
        client.call({}, "hang")
    return str(info.value)


def test_no_server_ever_listened(api, transport, topic):
    text = _timeout_text(api, transport, messaging.Target(topic=topic))
    assert NO_SERVER in text, text
    assert "'hang'" in text and topic in text


def test_the_only_server_stopped(api, transport, topic):
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"), [Stuck()])
    with running_server(server):
        pass
    text = _timeout_text(api, transport, messaging.Target(topic=topic, server="s1"))
    assert NO_SERVER in text, text


def test_a_server_took_it_and_never_answered(api, transport, topic):
    endpoint = Stuck()
    server = api.get_rpc_server(transport, messaging.Target(topic=topic, server="s1"),
                                [endpoint])
    with running_server(server):
        try:
            text = _timeout_text(api, transport, messaging.Target(topic=topic))
        finally:
            endpoint.release.set()
    assert SILENT in text and "1 server(s) listen" in text, text


def test_the_bus_did_not_accept_the_request(api, transport, topic):
    hooks = transport.driver.testing
    url = hooks.unreachable_url() if hooks is not None and transport.capabilities.brokered \
        else None
    if url is None:
        pytest.skip("driver has no bus that could refuse (no unreachable_url())")
    unreachable = get_rpc_transport(None, url)
    try:
        text = _timeout_text(api, unreachable, messaging.Target(topic=topic), timeout=1.0)
    finally:
        unreachable.cleanup()
    assert NOT_ACCEPTED in text, text
