"""The local RabbitMQ node, for the suites that need it: reachability, rabbitmqctl, vhosts.

Imported by the functional and interop conftests (``tests/`` is on the path
through ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

from messaging.testing.helpers import wait_for
from messaging.testing.plugin import skip_or_fail

BROKER = ("127.0.0.1", 5672)


def ctl_path() -> str | None:
    """Where rabbitmqctl is, or None."""
    return shutil.which("rabbitmqctl") or (
        "/usr/sbin/rabbitmqctl" if os.path.exists("/usr/sbin/rabbitmqctl") else None)


def unreachable() -> str | None:
    """Why the local node cannot serve the tests, or None if it can."""
    try:
        with socket.create_connection(BROKER, timeout=2):
            pass
    except OSError as exc:
        return f"RabbitMQ on {BROKER[0]}:{BROKER[1]} unreachable: {exc}"
    if ctl_path() is None:
        return "rabbitmqctl not found"
    return None


def ctl(*args: str, vhost: str | None = None, timeout: float = 60) -> str:
    """Run ``rabbitmqctl -q [-p vhost] args`` against the local node and return stdout."""
    exe = ctl_path()
    assert exe is not None
    cmd = [exe, "-q", *(("-p", vhost) if vhost else ()), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return out.stdout


@contextlib.contextmanager
def private_vhost(prefix: str) -> Iterator[str]:
    """A vhost of its own for ``guest``, deleted afterwards (skips or fails if no node)."""
    problem = unreachable()
    if problem is not None:
        skip_or_fail(problem)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    ctl("add_vhost", name)
    ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield name
    finally:
        ctl("delete_vhost", name)


def vhost_url(vhost: str) -> str:
    """The transport URL of ``vhost`` on the local node (oslo.messaging reads it too)."""
    return f"rabbit://guest:guest@127.0.0.1:5672/{vhost}"


def free_port() -> int:
    """A loopback TCP port nothing listens on (for broker-down tests and private nodes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateNode:
    """A throw-away RabbitMQ node on free loopback ports, for stop/start tests.

    Started from ``/usr/lib/rabbitmq/bin/rabbitmq-server`` with ``HOME`` and
    every ``RABBITMQ_*`` path in a temporary directory and a unique node name,
    so it can never touch the system node (its Erlang cookie differs). Its
    default vhost and user are the session's vhost and guest, so no
    ``rabbitmqctl`` call is needed.
    """

    SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self, vhost: str, tls: dict[str, str] | None = None,
                 plugins: tuple[str, ...] = (), extra_config: str = "",
                 cookie: str | None = None) -> None:
        """``tls``: paths ``ca``, ``cert``, ``key``; the node then listens on TLS only
        and requires a client certificate signed by ``ca``. ``plugins`` are enabled
        (e.g. ``rabbitmq_amqp1_0``); ``extra_config`` is appended to rabbitmq.conf;
        ``cookie`` is the Erlang cookie (nodes of one cluster share it)."""
        self.vhost = vhost
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="msg-rabbit-node-")
        self.node = f"msgtest-{os.getpid()}-{self.port}@localhost"
        if cookie is not None:
            path = os.path.join(self.dir, ".erlang.cookie")
            with open(path, "w") as f:
                f.write(cookie)
            os.chmod(path, 0o400)
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
                    "log.console = false\nlog.file.level = warning\n" + extra_config)
        enabled = "[" + ",".join(plugins) + "].\n"
        for name, text in (("advanced.config", "[].\n"), ("enabled_plugins", enabled),
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

        wait_for(accepts, timeout=timeout, interval=0.3, message="the private node to start")

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl`` against this node (for diagnostics; about a second per call)."""
        out = subprocess.run(["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", self.node, "-q", *args],
                             env=self.env, capture_output=True, text=True, timeout=60)
        return out.stdout + out.stderr

    def append_config(self, text: str) -> None:
        """Add lines to rabbitmq.conf (before :meth:`start`)."""
        with open(os.path.join(self.dir, "rabbitmq.conf"), "a") as f:
            f.write(text)

    def kill(self) -> None:
        """Kill the node at once (SIGKILL to its process group): a crash, not a shutdown."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

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


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(where: str) -> dict[str, str]:
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate (CN guest)
    and a self-signed certificate of a stranger (``other.pem``), made with ``openssl``."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=messaging-test-ca", "-keyout", "ca.key", "-out", "ca.pem", cwd=where)
    with open(os.path.join(where, "san.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn in (("server", "localhost"), ("client", "guest")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=where)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", "san.cnf",
                 "-out", f"{name}.pem", cwd=where)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=someone-else", "-keyout", "other.key", "-out", "other.pem", cwd=where)
    return {name: os.path.join(where, name) for name in (
        "ca.pem", "server.pem", "server.key", "client.pem", "client.key", "other.pem")}
