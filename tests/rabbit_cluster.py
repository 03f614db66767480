"""A three-node RabbitMQ cluster of private nodes on loopback, for the cluster suite.

Each node is a :class:`rabbitmq_local.PrivateNode` (own data dir, free
ports, unique node name); the nodes share one Erlang cookie and find each
other through RabbitMQ's classic peer discovery (``cluster_formation``
listing all three), so they form the cluster at first boot, started in
parallel, without ``rabbitmqctl join_cluster`` round trips. The cluster
never touches the broker on 5672 (its cookie and names differ).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Sequence

from rabbitmq_local import PrivateNode

from messaging.testing.helpers import wait_for

__all__ = ["RETRY_INTERVAL", "RabbitCluster", "diagnose", "kill_when_safe", "whole"]

QUEUES_CLI = "/usr/lib/rabbitmq/bin/rabbitmq-queues"

#: the ``rabbit_retry_interval`` the cluster suite's clients use (seconds)
RETRY_INTERVAL = 1.0


class RabbitCluster:
    """Three clustered private nodes; ``start`` returns once all run as one cluster."""

    def __init__(self, vhost: str, size: int = 3, extra_config: str = "") -> None:
        cookie = secrets.token_hex(16).upper()
        self.vhost = vhost
        self.nodes = [PrivateNode(vhost, extra_config=extra_config, cookie=cookie)
                      for _ in range(size)]
        discovery = "cluster_formation.peer_discovery_backend = classic_config\n" + "".join(
            f"cluster_formation.classic_config.nodes.{i + 1} = {n.node}\n"
            for i, n in enumerate(self.nodes))
        for node in self.nodes:
            node.append_config(discovery)
        #: seconds the last :meth:`start` took until the cluster was whole
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        """A transport URL listing every node (clients fail over between them)."""
        hosts = ",".join(n.url_host for n in self.nodes)
        return f"rabbit://{hosts}/{self.vhost}"

    def url_for(self, nodes: Sequence[PrivateNode], scheme: str = "rabbit") -> str:
        """A transport URL listing only ``nodes``."""
        return f"{scheme}://{','.join(n.url_host for n in nodes)}/{self.vhost}"

    def start(self, timeout: float = 120.0) -> None:
        """Start every node in parallel and wait until all of them run clustered."""
        began = time.monotonic()
        errors: list[BaseException] = []
        # kombu loads its names lazily and not thread-safely: resolved here, before the
        # boot threads' readiness checks use it at once ("no attribute 'Connection'").
        import kombu

        assert kombu.Connection is not None

        def boot(node: PrivateNode) -> None:
            try:
                node.start(timeout=timeout)
            except BaseException as exc:  # reported below, after every thread ends
                errors.append(exc)

        threads = [threading.Thread(target=boot, args=(n,)) for n in self.nodes
                   if not n.running]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        wait_for(lambda: len(self.running_nodes()) == len(self.nodes), timeout=timeout,
                 interval=0.5, message="the nodes to form one cluster")
        self.startup_seconds = time.monotonic() - began

    def running_nodes(self, via: PrivateNode | None = None) -> list[str]:
        """The cluster's running nodes, as one live node sees them."""
        node = via or next(n for n in self.nodes if n.running)
        out = subprocess.run(["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", node.node, "-q",
                              "cluster_status", "--formatter", "json"], env=node.env,
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            return []
        try:
            return list(json.loads(out.stdout).get("running_nodes", []))
        except ValueError:
            return []

    def queue_leader(self, queue: str, vhost: str | None = None) -> PrivateNode:
        """The node that leads quorum queue ``queue`` of ``vhost`` (or hosts a classic one)."""
        node = next(n for n in self.nodes if n.running)
        rows = json.loads(node.ctl("list_queues", "-p", vhost or self.vhost, "name", "leader",
                                   "pid", "--formatter", "json") or "[]")
        for row in rows:
            if row.get("name") == queue:
                leader = row.get("leader") or str(row.get("pid", "")).strip("<>").split(".")[0]
                for n in self.nodes:
                    if n.node == leader or n.node in str(row.get("pid", "")):
                        return n
        raise AssertionError(f"queue {queue} not found or its leader unknown: {rows!r}")

    def destroy(self) -> None:
        """Stop every node and delete their data."""
        for node in self.nodes:
            node.destroy()


def whole(cluster: RabbitCluster) -> None:
    """Restart any node a test killed and wait until all three run clustered."""
    if not all(n.running for n in cluster.nodes):
        cluster.start()
    wait_for(lambda: len(cluster.running_nodes()) == len(cluster.nodes), timeout=90,
             interval=0.5, message="the cluster to be whole")


def quorum_members_online(cluster: RabbitCluster, vhost: str, queue: str) -> bool:
    """Every node is a member of quorum queue ``queue`` and every member is online."""
    node = next(n for n in cluster.nodes if n.running)
    out = node.ctl("list_queues", "-p", vhost, "name", "members", "online",
                   "--no-table-headers")
    for line in out.splitlines():
        parts = line.split("\t")
        if parts and parts[0] == queue and len(parts) >= 3:
            return all(n.node in parts[1] and n.node in parts[2] for n in cluster.nodes)
    return False


def safe_to_kill(cluster: RabbitCluster, node: PrivateNode) -> bool:
    """``rabbitmq-queues check_if_node_is_quorum_critical``: no quorum queue needs ``node``."""
    out = subprocess.run([QUEUES_CLI, "-n", node.node, "check_if_node_is_quorum_critical"],
                         env=node.env, capture_output=True, text=True, timeout=60)
    return out.returncode == 0


def kill_when_safe(cluster: RabbitCluster, vhost: str, queues: list[str],
                   node: PrivateNode) -> float:
    """Kill ``node`` once every member of ``queues`` is online and it is not quorum-critical.

    Killing a node while a queue's members are still joining leaves that
    queue without a quorum, and it refuses publishes until the node returns:
    not the fault under test. Returns the monotonic time of the kill.
    """
    wait_for(lambda: all(quorum_members_online(cluster, vhost, q) for q in queues),
             timeout=60, interval=0.5, message=f"every member of {queues} online")
    wait_for(lambda: safe_to_kill(cluster, node), timeout=60, interval=0.5,
             message=f"{node.node} not quorum-critical")
    when = time.monotonic()
    node.kill()
    return when


def _fresh_channel_publish(node: PrivateNode, vhost: str, exchange: str,
                           routing_key: str) -> str:
    """Publish one confirmed message on a brand-new pika channel to ``node``: ack, nack or error."""
    import pika
    from pika.exceptions import AMQPError, NackError, UnroutableError

    try:
        conn = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", node.port, vhost, pika.PlainCredentials("guest", "guest"),
            socket_timeout=5, blocked_connection_timeout=10))
    except AMQPError as exc:
        return f"no connection ({type(exc).__name__})"
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, b"{}")
        return "ack"
    except (NackError, UnroutableError) as exc:
        return type(exc).__name__
    except AMQPError as exc:
        return f"error {type(exc).__name__}: {exc}"
    finally:
        try:
            conn.close()
        except AMQPError:
            pass


def diagnose(cluster: RabbitCluster, vhost: str, queues: list[str],
             exchange: str = "", routing_key: str = "") -> str:
    """What the cluster says about ``queues`` now, for a failure message.

    ``rabbitmq-queues quorum_status`` of each queue, the queues' leaders,
    states and online members, the vhost's channels with their unconfirmed
    publishes and, given ``exchange``/``routing_key``, whether a confirmed
    publish on a brand-new channel to each running node is acked (a stale
    client channel and a queue refusing every publisher tell apart so).
    """
    node = next(n for n in cluster.nodes if n.running)
    parts = []
    for queue in queues:
        out = subprocess.run([QUEUES_CLI, "-n", node.node, "quorum_status", queue, "-p", vhost,
                              "--formatter", "json"], env=node.env, capture_output=True,
                             text=True, timeout=60)
        parts.append(f"quorum_status {queue}: {(out.stdout or out.stderr).strip()}")
    parts.append(node.ctl("list_queues", "-p", vhost, "name", "type", "leader", "state",
                          "online", "messages"))
    parts.append(node.ctl("list_channels", "name", "vhost", "confirm", "messages_unconfirmed"))
    if routing_key:
        for n in cluster.nodes:
            if n.running:
                parts.append(f"fresh channel on {n.node}: "
                             f"{_fresh_channel_publish(n, vhost, exchange, routing_key)}")
    return "\n".join(parts)
