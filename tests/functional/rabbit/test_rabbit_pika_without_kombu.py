"""A pika-only install (``pip install messaging[pika]``) needs neither kombu nor py-amqp.

The pika driver and the shared AMQP 0-9-1 layer run in a subprocess in
which importing ``kombu`` or ``amqp`` fails, as it would where they are not
installed: a server, a call, a cast and a notification over ``pika://``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.rabbit, pytest.mark.amqp091_driver("pika")]

SCRIPT = textwrap.dedent('''
    import importlib.abc, sys

    class NoKombu(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("kombu", "amqp"):
                raise ImportError(f"{name} is not installed (blocked by the test)")
            return None

    sys.meta_path.insert(0, NoKombu())
    import messaging

    class Echo:
        def echo(self, ctxt, value):
            return value

        def note(self, ctxt, value):
            notes.append(value)

    class Events:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            notes.append(payload)

    notes = []
    url, topic = sys.argv[1], sys.argv[2]
    with messaging.get_rpc_transport(None, url) as transport:
        server = messaging.get_rpc_server(
            transport, messaging.Target(topic=topic, server="s1"), [Echo()])
        listener = messaging.get_notification_listener(
            transport, [messaging.Target(topic=topic)], [Events()])
        server.start()
        listener.start()
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=20)
        assert client.call({}, "echo", value="pong") == "pong"
        client.cast({}, "note", value="cast")
        messaging.Notifier(transport, "p", driver="messagingv2", topics=[topic]).info(
            {}, "e", "notified")
        import time
        deadline = time.monotonic() + 20
        while len(notes) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop(); listener.stop(); server.wait(); listener.wait()
    assert sorted(notes) == ["cast", "notified"], notes
    assert not {"kombu", "amqp"} & set(sys.modules), "kombu or py-amqp was imported"
    print("pika-only ok")
''')


def test_the_pika_driver_runs_without_kombu_or_py_amqp(url, topic):
    result = subprocess.run([sys.executable, "-c", SCRIPT, url, topic], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pika-only ok" in result.stdout
