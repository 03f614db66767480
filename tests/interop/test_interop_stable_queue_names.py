"""``use_queue_manager`` with oslo.messaging 18.3.1 on the other end, both directions.

oslo's side runs in a process of its own (the ``peers`` fixture), started with
``start_new_session=True``: its queue manager reads the process group
leader's ``/proc/<pgid>/stat``, and under CI the test runner's group
leader may be gone (FileNotFoundError). Names are oslo's format
``reply_<hostname>:<processname>:<n>`` and
``<topic>_fanout_<hostname>:<processname>:<n>`` on both sides.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

import messaging

pytestmark = pytest.mark.rabbit

OPTIONS = {"use_queue_manager": True, "hostname": "node-a"}


def _qm(proc: str) -> str:
    return f"use_queue_manager=true&hostname=node-a&processname={proc}"


class Echo:
    def echo(self, ctxt, **kwargs):
        return dict(kwargs, by="ours")


def test_an_oslo_client_with_stable_names_calls_our_server_with_them(
        peers, url, ours, running, topic, tmp_path, monkeypatch):
    monkeypatch.setenv("MESSAGING_QUEUE_NAME_DIR", str(tmp_path))
    ours_proc = f"ours-{uuid.uuid4().hex[:6]}"
    transport = messaging.get_rpc_transport(None, url.replace("rabbit://", f"{ours}://", 1)
                                            + "?" + _qm(ours_proc))
    try:
        running(messaging.get_rpc_server(
            transport, messaging.Target(topic=topic, server="s1"), [Echo()],
            executor="threading"))
        (listener,) = transport.driver._listeners  # its queues, to check the name
        names = [q.name for q in listener.queues]
        assert names[-1] == f"{topic}_fanout_node-a:{ours_proc}:1"
        oslo_proc = f"oslo-{uuid.uuid4().hex[:6]}"
        client = peers("client", url, topic, json.dumps(dict(OPTIONS, processname=oslo_proc)),
                       "5")
        out = client.line()
        assert re.fullmatch(rf"reply_node-a:{oslo_proc}:\d+", out["reply_q"])
        assert out["results"] == [{"n": k, "by": "ours"} for k in range(5)]
    finally:
        transport.cleanup()


def test_our_client_with_stable_names_calls_an_oslo_server_with_them(
        peers, url, ours, topic, tmp_path, monkeypatch, wait):
    monkeypatch.setenv("MESSAGING_QUEUE_NAME_DIR", str(tmp_path))
    oslo_proc = f"oslo-{uuid.uuid4().hex[:6]}"
    server = peers("server", url, topic, json.dumps(dict(OPTIONS, processname=oslo_proc)))
    ready = server.line()
    if ready["fanout"] is not None:
        assert re.fullmatch(rf"{topic}_fanout_node-a:{oslo_proc}:\d+", ready["fanout"])
    ours_proc = f"ours-{uuid.uuid4().hex[:6]}"
    transport = messaging.get_rpc_transport(None, url.replace("rabbit://", f"{ours}://", 1)
                                            + "?" + _qm(ours_proc))
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic),
                                          timeout=30)
        assert [client.call({}, "echo", n=k) for k in range(5)] == [
            {"n": k, "by": "oslo"} for k in range(5)]
        assert transport.driver._replies.queue_name == f"reply_node-a:{ours_proc}:1"
        client.prepare(fanout=True).cast({}, "note", value="hello")
        assert server.line() == {"note": "hello"}
    finally:
        transport.cleanup()
