"""With the quorum options, every queue the driver declares on the cluster is a quorum queue.

``rabbit_quorum_queue``: topic, server and notification queues;
``rabbit_transient_quorum_queue``: reply and fanout queues too; with
``rabbit_quorum_delivery_limit`` the broker stops redelivering a request
requeued that many times.
"""

from __future__ import annotations

import pytest

from messaging.target import Target
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit


def queue_types(cluster, vhost):
    node = next(n for n in cluster.nodes if n.running)
    out = node.ctl("list_queues", "-p", vhost, "name", "type", "arguments", "members",
                   "--no-table-headers")
    return {line.split("\t")[0]: line for line in out.splitlines() if "\t" in line}


def test_every_queue_is_a_quorum_queue_with_three_members(cluster, cluster_vhost, cluster_url,
                                                          make_cluster_driver, consume):
    driver = make_cluster_driver(f"{cluster_url}&rabbit_quorum_queue=true"
                                 "&rabbit_transient_quorum_queue=true"
                                 "&rabbit_quorum_delivery_limit=3")
    consume(driver.listen(Target(topic="t", server="s1")), lambda m: "ok")
    consume(driver.listen_for_notifications([(Target(topic="n"), "info")]))
    assert driver.call(Target(topic="t"), {}, {"method": "m", "args": {}},
                       timeout=30).result == "ok"
    rows = wait_for(lambda: (r := queue_types(cluster, cluster_vhost)) and len(r) >= 5 and r,
                    30, message="the queues")
    names = sorted(rows)
    assert {"t", "t.s1", "n.info"} <= set(names)
    assert any(n.startswith("reply_") for n in names)
    assert any(n.startswith("t_fanout_") for n in names)
    for name, row in rows.items():
        assert "\tquorum\t" in row, row
        assert all(node.node in row for node in cluster.nodes), f"{name} lacks members: {row}"
        if name in ("t", "t.s1", "n.info"):
            assert "x-delivery-limit" in row, row
