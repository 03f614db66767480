"""A private RabbitMQ 3.10 node with the ``rabbitmq_amqp1_0`` plugin: the AMQP 1.0 peer.

No Qpid broker exists for this machine, so the AMQP 1.0 driver is tested
against RabbitMQ's plugin, on a node of its own (free loopback ports, a temp
directory, a unique node name: the system node on 5672 is never touched).
The node gets the expiry policy for the queues RabbitMQ 3.10 never deletes
(``amq.gen-*`` fanout subscriptions, ``reply_*`` queues).

Used by ``tools/amqp1_node.py`` (the launcher of ``tox -e func-amqp1``), the
functional tests' fixtures and the benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))

from rabbitmq_local import PrivateNode

__all__ = ["Amqp1Node", "EXPIRY_POLICY", "NODE_ENV", "RemoteNode", "declare_durable_queue",
           "delete_queue", "queue_names", "url_of"]

#: Environment variable through which a launcher hands its node to the tests.
NODE_ENV = "MESSAGING_AMQP1_NODE"
#: Unused temporary queues of AMQP 1.0 clients go after this many milliseconds.
TEMP_QUEUE_EXPIRES_MS = 60000
EXPIRY_POLICY = ("expire-amqp1-temp", r"^(amq\.gen-|reply_)",
                 json.dumps({"expires": TEMP_QUEUE_EXPIRES_MS}))
_CONFIG = ("amqp1_0.default_user = guest\n"
           "amqp1_0.default_vhost = /\n"
           "amqp1_0.protocol_strict_mode = false\n")


class Amqp1Node(PrivateNode):
    """A :class:`PrivateNode` with the AMQP 1.0 plugin, its policy, and timings."""

    def __init__(self, tls: dict[str, str] | None = None) -> None:
        super().__init__("/", tls=tls, plugins=("rabbitmq_amqp1_0",), extra_config=_CONFIG)
        #: seconds the last start took (until logins succeed and the policy is set)
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        """The AMQP 1.0 transport URL of the node (plain TCP listeners only)."""
        return f"amqp://{self.url_host}/"

    def start(self, timeout: float = 90.0, ssl: Any = None) -> None:
        """Start, wait for logins, set the expiry policy (once per node directory)."""
        began = time.monotonic()
        super().start(timeout, ssl)
        if not os.path.exists(os.path.join(self.dir, "policy-set")):
            self.set_policy()
            open(os.path.join(self.dir, "policy-set"), "w").close()
        self.startup_seconds = time.monotonic() - began

    def set_policy(self) -> None:
        """Expire unused ``amq.gen-*`` and ``reply_*`` queues (RabbitMQ 3.10 never deletes them)."""
        name, pattern, definition = EXPIRY_POLICY
        out = subprocess.run(
            ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", self.node, "-q", "set_policy", name,
             pattern, definition, "--apply-to", "queues"],
            env=self.env, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"set_policy failed: {out.stderr.strip()}")

    def describe(self) -> str:
        """What a test process needs to reach this node with rabbitmqctl (JSON)."""
        return json.dumps({"node": self.node, "home": self.dir, "port": self.port})


class RemoteNode:
    """A node started by another process (the launcher), reached through rabbitmqctl."""

    def __init__(self, described: str) -> None:
        info = json.loads(described)
        self.node: str = info["node"]
        self.port: int = int(info["port"])
        self.env = dict(os.environ, HOME=info["home"])
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def ctl(self, *args: str) -> str:
        out = subprocess.run(["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", self.node, "-q",
                              *args], env=self.env, capture_output=True, text=True, timeout=60)
        return out.stdout + out.stderr


def queue_names(node: Any) -> set[str]:
    """Names of the queues on ``node``'s default vhost."""
    text = node.ctl("list_queues", "name", "--no-table-headers")
    return {line.strip() for line in text.splitlines() if line.strip()}


def declare_durable_queue(node: Any, name: str) -> None:
    """Declare ``name`` durable over AMQP 0-9-1 (same port), so a non-durable attach clashes."""
    import kombu

    with kombu.Connection(f"amqp://guest:guest@127.0.0.1:{node.port}//") as conn:
        kombu.Queue(name, durable=True, channel=conn.default_channel).declare()


def delete_queue(node: Any, name: str) -> None:
    """Delete ``name`` over AMQP 0-9-1 (what an operator or a policy would do)."""
    import kombu

    with kombu.Connection(f"amqp://guest:guest@127.0.0.1:{node.port}//") as conn:
        conn.default_channel.queue_delete(name)


def url_of(node: Any, query: str = "") -> str:
    """The URL of ``node`` with an optional query."""
    text = str(node.url)
    return f"{text}?{query}" if query else text
