"""The library in a process monkey-patched by eventlet (``tox -e eventlet``).

Each scenario runs in its own interpreter (monkey-patching pytest's own
process would change every other test) under a deadline: a deadlock fails
the test instead of hanging it. The scenarios patch *after* importing
``messaging``, as a service does when the library is imported by a module
loaded before its ``eventlet.monkey_patch()`` call, and before it.

The RPC and notification scenarios run on ``fake://`` and on RabbitMQ over
both AMQP 0-9-1 drivers (``rabbit://``, kombu: its I/O thread then waits
through eventlet's hub, ``drivers/messaging_rabbit/poller.py``; ``pika://``),
in a vhost of the session's own.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest

pytest.importorskip("eventlet")

DEADLINE = 60.0


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    from rabbitmq_local import private_vhost

    with private_vhost("messaging_eventlet") as name:
        yield name


@pytest.fixture(params=["fake", "rabbit", "pika"])
def url(request: pytest.FixtureRequest) -> str:
    """A transport URL of each driver: fake://, and RabbitMQ over kombu and over pika."""
    if request.param == "fake":
        return f"fake:///{uuid.uuid4().hex}"
    pytest.importorskip("kombu" if request.param == "rabbit" else "pika")
    vhost = request.getfixturevalue("vhost")
    return f"{request.param}://guest:guest@127.0.0.1:5672/{vhost}"

SERVERS_AND_CASTS = """
import json, threading, uuid
{prologue}
import messaging

class Endpoint:
    def __init__(self, name, seen, done):
        self.name, self.seen, self.done = name, seen, done

    def note(self, ctxt, value):
        self.seen.append((self.name, value))
        if len(self.seen) == 4:
            self.done.set()

    def add(self, ctxt, a, b):
        return a + b

seen, done = [], threading.Event()
topic = "t_" + uuid.uuid4().hex[:8]
transport = messaging.get_rpc_transport(None, {url!r})
servers = [messaging.get_rpc_server(transport, messaging.Target(topic=topic, server=name),
                                    [Endpoint(name, seen, done)], {executor})
           for name in ("a", "b")]
for server in servers:
    server.start()
client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=10)
for value in range(2):
    client.prepare(server="a").cast({{}}, "note", value=value)
    client.prepare(server="b").cast({{}}, "note", value=value)
delivered = done.wait(10)
answers = [client.call({{}}, "add", a=i, b=1) for i in range(3)]
for server in servers:
    server.stop()
    server.wait()
transport.cleanup()
print(json.dumps({{"delivered": delivered, "seen": sorted(seen), "answers": answers,
                  "executors": [s.executor_type for s in servers]}}))
"""

PATCH_AFTER_IMPORT = "import messaging\nimport eventlet\neventlet.monkey_patch()"
PATCH_FIRST = "import eventlet\neventlet.monkey_patch()"


def _run(code: str) -> str:
    try:
        done = subprocess.run([sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
                              capture_output=True, text=True, timeout=DEADLINE)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"deadlocked: no result within {DEADLINE}s; stderr: {exc.stderr!r}")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("prologue", [PATCH_AFTER_IMPORT, PATCH_FIRST],
                         ids=["patched-after-import", "patched-first"])
@pytest.mark.parametrize("executor", ["", "executor='threading'"],
                         ids=["default-executor", "threading-executor"])
def test_two_rpc_servers_take_casts_and_calls_without_deadlock(prologue, executor, url):
    import json

    result = json.loads(_run(SERVERS_AND_CASTS.format(prologue=prologue, executor=executor,
                                                      url=url)))
    assert result["delivered"] is True
    assert result["seen"] == [["a", 0], ["a", 1], ["b", 0], ["b", 1]]
    assert result["answers"] == [1, 2, 3]
    assert result["executors"] == ["eventlet", "eventlet"]  # green threads, as oslo's default


def test_eventlet_executor_is_accepted_with_oslos_deprecation_warning():
    code = """
    import uuid, warnings
    import eventlet
    eventlet.monkey_patch()
    import messaging

    transport = messaging.get_rpc_transport(None, "fake:///" + uuid.uuid4().hex)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                          [], executor="eventlet")
    print([str(w.message) for w in caught if w.category is DeprecationWarning])
    print(server.executor_type)
    """
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                              capture_output=True, text=True, timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail("deadlocked")
    assert done.returncode == 0, done.stderr
    warned, executor = done.stdout.strip().splitlines()[-2:]
    assert executor == "eventlet"
    assert "the eventlet executor is now deprecated. Threading will be the only execution " \
           "model available." in warned


def test_notifications_flow_in_a_patched_process(url):
    code = f"""
    import json, threading, uuid
    import messaging
    import eventlet
    eventlet.monkey_patch()

    got, done = [], threading.Event()

    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            got.append(payload)
            if len(got) == 3:
                done.set()

    topic = "n_" + uuid.uuid4().hex[:8]
    transport = messaging.get_notification_transport(None, {url!r})
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)], [Endpoint()])
    listener.start()
    notifier = messaging.Notifier(transport, "p", driver="messagingv2", topics=[topic])
    for i in range(3):
        notifier.info({{}}, "e", {{"i": i}})
    ok = done.wait(10)
    listener.stop()
    listener.wait()
    transport.cleanup()
    print(json.dumps({{"ok": ok, "got": got}}))
    """
    import json

    result = json.loads(_run(code))
    assert result["ok"] is True
    assert sorted(result["got"], key=lambda p: p["i"]) == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_an_unpatched_process_never_imports_eventlet():
    code = """
    import sys, threading, uuid
    import messaging

    done = threading.Event()

    class Endpoint:
        def note(self, ctxt):
            done.set()

    transport = messaging.get_rpc_transport(None, "fake:///" + uuid.uuid4().hex)
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"),
                                      [Endpoint()])
    server.start()
    messaging.get_rpc_client(transport, messaging.Target(topic="t")).cast({}, "note")
    assert done.wait(10)
    server.stop()
    server.wait()
    transport.cleanup()
    print(server.executor_type, "eventlet" in sys.modules)
    """
    assert _run(code) == "threading False"
