"""The SQLite driver across processes: a server in a child process, a crash mid-delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import messaging
from messaging.testing.helpers import wait_for

SERVER = textwrap.dedent("""
    import sys, messaging

    class Echo:
        def echo(self, ctxt, value):
            return {"value": value, "pid": __import__("os").getpid()}

    transport = messaging.get_rpc_transport(None, sys.argv[1])
    server = messaging.get_rpc_server(transport, messaging.Target(topic="xproc", server="child"),
                                      [Echo()], executor="threading")
    server.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop(); server.wait(); transport.cleanup()
""")

HOARDER = textwrap.dedent("""
    import sys, messaging
    from messaging.target import Target

    transport = messaging.get_notification_transport(None, sys.argv[1])
    listener = transport.listen_for_notifications([(Target(topic="crash"), "info")], pool="p")
    taken = listener.poll(timeout=20)
    print("took", len(taken), flush=True)
    sys.stdin.read()  # hold the lease (never settled) until killed
""")


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/bus.db?lease=1&poll_interval=0.01"


def _child(code: str, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)


def test_a_call_is_served_by_another_process(url):
    child = _child(SERVER, url)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with messaging.get_rpc_transport(None, url) as transport:
            client = messaging.get_rpc_client(transport, messaging.Target(topic="xproc"),
                                              timeout=20)
            reply = client.call({}, "echo", value="across")
            assert reply == {"value": "across", "pid": child.pid}
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(20)
    assert child.returncode == 0


def test_notification_held_by_a_killed_process_is_delivered_again(url):
    with messaging.get_notification_transport(None, url) as transport:
        listener = transport.listen_for_notifications(
            [(messaging.Target(topic="crash"), "info")], pool="p")  # declares the pool queue
        listener.cleanup()
        messaging.Notifier(transport, "test", driver="messagingv2",
                           topics=["crash"]).info({}, "crash.event", {"n": 1})
        child = _child(HOARDER, url)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "took 1"
        finally:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)
        killed_at = time.monotonic()
        survivor = transport.listen_for_notifications(
            [(messaging.Target(topic="crash"), "info")], pool="p")
        try:
            got = wait_for(lambda: survivor.poll(timeout=0.5), timeout=20,
                           message="the notification to come back after its lease")
            assert [m.message["event_type"] for m in got] == ["crash.event"]
            got[0].acknowledge()
            assert time.monotonic() - killed_at < 15
        finally:
            survivor.cleanup()
