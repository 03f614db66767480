"""Fixtures for the RabbitMQ driver's functional tests (real broker on 127.0.0.1:5672).

Without a reachable broker the tests skip with the reason, unless
``MESSAGING_REQUIRE_BROKERS=1`` (CI), where they fail. Each session gets a
private vhost (``rabbitmqctl add_vhost``), deleted at the end, and each test
unique topic names, so runs never collide with each other or with the
conformance kit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from messaging_rabbit.driver import RabbitDriver
from rabbitmq_local import ctl, private_vhost, vhost_url

from messaging.driver import IncomingMessage, Listener, Reply
from messaging.testing.helpers import wait_for
from messaging.testing.plugin import skip_or_fail
from messaging.url import TransportURL


def ctl_json(*args: str, vhost: str | None = None) -> list[dict[str, Any]]:
    """``rabbitmqctl list_*`` as a list of dicts (``--formatter json``)."""
    text = ctl(*args, "--formatter", "json", vhost=vhost).strip()
    return json.loads(text) if text else []


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
               what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; fail after ``timeout`` seconds (the kit's wait_for)."""
    return wait_for(predicate, timeout, interval, message=what)


def free_port() -> int:
    """A loopback TCP port nothing listens on (for broker-down tests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def vhost() -> Iterator[str]:
    """A private vhost for the session, deleted at the end."""
    with private_vhost("messaging_func") as name:
        yield name


@pytest.fixture
def url(vhost: str) -> str:
    """The transport URL of the private vhost."""
    return vhost_url(vhost)


@pytest.fixture
def topic() -> str:
    """A topic no other test uses."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_driver(url: str) -> Iterator[Callable[..., RabbitDriver]]:
    """Build drivers (``make_driver(query='a=1', url=...)``); all cleaned up after the test."""
    made: list[RabbitDriver] = []

    def make(query: str = "", url_: str | None = None, conf: Any = None,
             default_exchange: str = "openstack") -> RabbitDriver:
        text = url_ or url
        if query:
            text += ("&" if "?" in text else "?") + query
        driver = RabbitDriver(conf, TransportURL.parse(text), default_exchange=default_exchange)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.cleanup()


@pytest.fixture
def driver(make_driver: Callable[..., RabbitDriver]) -> RabbitDriver:
    """A driver on the private vhost with default options."""
    return make_driver()


class SpiServer:
    """A minimal server loop on the driver interface: poll, ack, run ``handler``, reply.

    ``handler(message)`` runs in the polling thread and returns the result
    (or a whole :class:`Reply`, e.g. with a failure). Everything received is
    recorded.
    """

    def __init__(self, listener: Listener,
                 handler: Callable[[IncomingMessage], Any] | None = None,
                 ack: bool = True) -> None:
        self.listener = listener
        self.handler = handler or (lambda m: m.message.get("args"))
        self.ack = ack
        self.received: list[IncomingMessage] = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            for msg in self.listener.poll(timeout=0.2):
                if self.ack:
                    msg.acknowledge()
                with self._cond:
                    self.received.append(msg)
                    self._cond.notify_all()
                value = self.handler(msg)
                result = value if isinstance(value, Reply) else Reply(result=value)
                reply = getattr(msg, "reply", None)
                if reply is not None and getattr(msg, "wants_reply", False):
                    reply(result)

    def wait_count(self, count: int, timeout: float = 10.0) -> list[IncomingMessage]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} messages in {timeout}s, "
                                     f"got {len(self.received)}")
            return list(self.received)

    def stop(self) -> None:
        self._stop = True
        self.listener.stop()
        self._thread.join(5)
        self.listener.cleanup()


@pytest.fixture
def serve() -> Iterator[Callable[..., SpiServer]]:
    """Start :class:`SpiServer` loops; all stopped after the test."""
    servers: list[SpiServer] = []

    def start(listener: Listener, handler: Callable[[IncomingMessage], Any] | None = None,
              ack: bool = True) -> SpiServer:
        server = SpiServer(listener, handler, ack)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Rabbit:
    """rabbitmqctl helpers bound to the session's vhost (the ``rmq`` fixture)."""

    def __init__(self, vhost: str) -> None:
        self.vhost = vhost

    ctl = staticmethod(ctl)
    ctl_json = staticmethod(ctl_json)
    wait_until = staticmethod(wait_until)
    free_port = staticmethod(free_port)

    def queues(self) -> dict[str, dict[str, Any]]:
        """Queues of the vhost by name: durable, auto_delete, arguments (a dict), messages."""
        rows = ctl_json("list_queues", "name", "durable", "auto_delete", "arguments",
                        "messages", "consumers", vhost=self.vhost)
        for row in rows:
            row["arguments"] = {a[0]: a[-1] for a in row.get("arguments") or []}
        return {row["name"]: row for row in rows}

    def exchanges(self) -> dict[str, dict[str, Any]]:
        """Exchanges of the vhost by name: type, durable, auto_delete, arguments."""
        rows = ctl_json("list_exchanges", "name", "type", "durable", "auto_delete", "arguments",
                        vhost=self.vhost)
        return {row["name"]: row for row in rows}

    def bindings(self) -> set[tuple[str, str, str]]:
        """(exchange, queue, routing key) of every binding in the vhost."""
        rows = ctl_json("list_bindings", "source_name", "destination_name", "routing_key",
                        vhost=self.vhost)
        return {(r["source_name"], r["destination_name"], r["routing_key"]) for r in rows}

    def connections(self) -> dict[str, dict[str, Any]]:
        """Connections to the vhost by their ``connection_name``."""
        out = {}
        for row in ctl_json("list_connections", "peer_port", "vhost", "client_properties",
                            "state"):
            if row.get("vhost") != self.vhost:
                continue
            for item in row.get("client_properties") or []:
                if isinstance(item, list) and item and item[0] == "connection_name":
                    out[item[-1]] = row
        return out

    def close_connection(self, name: str, reason: str = "closed by test") -> None:
        """Have the broker close the connection whose ``connection_name`` is ``name``."""
        row = self.connections().get(name)
        if row is None:
            raise AssertionError(f"no connection named {name}")
        # The JSON formatter mangles pids; the plain listing gives them as the CLI wants.
        for line in ctl("list_connections", "--no-table-headers", "pid", "peer_port").splitlines():
            pid, _, port = line.rpartition("\t")
            if port.strip() == str(row["peer_port"]):
                ctl("close_connection", pid.strip(), reason)
                return
        raise AssertionError(f"connection {name} vanished")


@pytest.fixture
def rmq(vhost: str) -> Rabbit:
    """rabbitmqctl helpers for the session's vhost."""
    return Rabbit(vhost)


class PrivateNode:
    """A throw-away RabbitMQ node on free loopback ports, for stop/start tests.

    Started from ``/usr/lib/rabbitmq/bin/rabbitmq-server`` with ``HOME`` and
    every ``RABBITMQ_*`` path in a temporary directory and a unique node name,
    so it can never touch the system node (its Erlang cookie differs). Its
    default vhost and user are the session's vhost and guest, so no
    ``rabbitmqctl`` call is needed.
    """

    SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self, vhost: str, tls: dict[str, str] | None = None) -> None:
        """``tls``: paths ``ca``, ``cert``, ``key``; the node then listens on TLS only
        and requires a client certificate signed by ``ca``."""
        self.vhost = vhost
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="msg-rabbit-node-")
        self.node = f"msgtest-{os.getpid()}-{self.port}@localhost"
        self.tls = tls
        self._proc: subprocess.Popen[bytes] | None = None
        for sub in ("mnesia", "log"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        if tls:
            listeners = (f"listeners.tcp = none\nlisteners.ssl.default = 127.0.0.1:{self.port}\n"
                         f"ssl_options.cacertfile = {tls['ca']}\n"
                         f"ssl_options.certfile = {tls['cert']}\n"
                         f"ssl_options.keyfile = {tls['key']}\n"
                         "ssl_options.verify = verify_peer\n"
                         "ssl_options.fail_if_no_peer_cert = true\n")
        else:
            listeners = f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write(listeners +
                    f"default_vhost = {vhost}\ndefault_user = guest\ndefault_pass = guest\n"
                    "log.console = false\nlog.file.level = warning\n")
        for name, text in (("advanced.config", "[].\n"), ("enabled_plugins", "[].\n"),
                           ("rabbitmq-env.conf", "")):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        dist = free_port()
        self.env = dict(os.environ, HOME=self.dir, RABBITMQ_NODENAME=self.node,
                        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(self.port),
                        RABBITMQ_DIST_PORT=str(dist),
                        RABBITMQ_CONF_ENV_FILE=os.path.join(self.dir, "rabbitmq-env.conf"),
                        RABBITMQ_CONFIG_FILE=os.path.join(self.dir, "rabbitmq.conf"),
                        RABBITMQ_ADVANCED_CONFIG_FILE=os.path.join(self.dir, "advanced.config"),
                        RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.dir, "enabled_plugins"),
                        RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_PID_FILE=os.path.join(self.dir, "pid"),
                        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                            "-kernel inet_dist_use_interface {127,0,0,1}"))

    @property
    def url_host(self) -> str:
        return f"guest:guest@127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 90.0, ssl: Any = None) -> None:
        """Start the node and wait until it accepts AMQP logins on the vhost.

        ``ssl``: kombu's ``ssl`` argument for the readiness check of a TLS node.
        """
        if self.running:
            return
        log = open(os.path.join(self.dir, "log", "stdout.log"), "ab")
        self._proc = subprocess.Popen([self.SERVER], env=self.env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True,
                                      cwd=self.dir)
        log.close()
        import kombu

        def accepts() -> bool:
            if not self.running:
                raise AssertionError(f"private RabbitMQ node exited; see {self.dir}/log")
            conn = kombu.Connection(f"amqp://{self.url_host}/{self.vhost}", connect_timeout=1,
                                    ssl=ssl or False)
            try:
                conn.ensure_connection(max_retries=0)
                return True
            except Exception:
                return False
            finally:
                conn.release()

        wait_until(accepts, timeout=timeout, interval=0.3, what="the private node to start")

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl`` against this node (for diagnostics; about a second per call)."""
        out = subprocess.run(["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", self.node, "-q", *args],
                             env=self.env, capture_output=True, text=True, timeout=60)
        return out.stdout + out.stderr

    def stop(self) -> None:
        """Stop the node (SIGTERM: a clean shutdown, about a second)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def _private_node(vhost: str) -> Iterator[PrivateNode]:
    if not os.path.exists(PrivateNode.SERVER):
        skip_or_fail(f"{PrivateNode.SERVER} not found: cannot start a private node")
    node = PrivateNode(vhost)
    try:
        yield node
    finally:
        node.destroy()


@pytest.fixture
def private_node(_private_node: PrivateNode) -> PrivateNode:
    """A private RabbitMQ node (shared by the session), running when the test starts."""
    _private_node.start()
    return _private_node


@pytest.fixture(scope="session")
def private_node_class() -> type[PrivateNode]:
    """:class:`PrivateNode`, for tests that need a node of their own (e.g. TLS)."""
    if not os.path.exists(PrivateNode.SERVER):
        skip_or_fail(f"{PrivateNode.SERVER} not found: cannot start a private node")
    return PrivateNode
