"""Cleaning up a transport gives back its file descriptors and threads."""

from __future__ import annotations

import os
import threading

import pytest

import messaging
from messaging.testing.helpers import running_server, wait_for


class Echo:
    def echo(self, ctxt, value):
        return value


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _zmq_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("messaging-zmq")]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_transports_cleaned_up_leave_no_descriptor_or_thread(url, topic):
    def one_round() -> None:
        transport = messaging.get_rpc_transport(None, url)
        server = messaging.get_rpc_server(transport, messaging.Target(topic=topic,
                                                                      server="s1"), [Echo()])
        with running_server(server):
            client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                              timeout=20)
            assert [client.call({}, "echo", value=i) for i in range(3)] == [0, 1, 2]
            assert transport.submit_call(messaging.Target(topic=topic), {},
                                         {"method": "echo", "args": {"value": 9}},
                                         timeout=20).result(20).result == 9
        transport.cleanup()

    one_round()  # the process-wide parts (the deadline thread, imports) exist from here on
    wait_for(lambda: not _zmq_threads(), 10, message="the first round's threads to end")
    before = _fds()
    for _ in range(10):
        one_round()
    wait_for(lambda: not _zmq_threads(), 10, message="every zmq thread to end")
    assert _fds() - before <= 2, "file descriptors leak with each transport"
