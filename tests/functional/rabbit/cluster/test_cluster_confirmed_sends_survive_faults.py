"""No confirmed cast or notification is lost while connections are cut and the leader dies.

Casts to a server's quorum queue and notifications to a quorum
notification queue are sent from several threads through one proxy per
node; meanwhile every connection is cut five times, then the node leading
the cast queue is killed (once all members are online and it is not
quorum-critical) and restarted. A send that raises was not confirmed: the
sender sends it again (its caller would), and it counts as "not confirmed",
not lost. Every confirmed id must arrive; duplicates are counted and
reported (a cast is at-most-once per delivery, but a publish whose confirm
was lost with its connection is sent again). Consumers must resume after
each fault within twice the retry interval (plus the time the fault itself
takes: a restart's election).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest
from rabbit_cluster import RETRY_INTERVAL, diagnose, kill_when_safe, whole

from messaging.exceptions import MessageDeliveryFailure, MessagingTimeout
from messaging.target import Target
from messaging.testing.helpers import wait_for

pytestmark = pytest.mark.rabbit

COUNT = int(os.environ.get("MESSAGING_CLUSTER_COUNT", "10000"))
SENDERS = 4
QUORUM = "rabbit_quorum_queue=true&rabbit_transient_quorum_queue=true&send_timeout=10"


def test_confirmed_casts_and_notifications_survive_cuts_and_a_leader_kill(
        cluster, cluster_vhost, proxies, proxied_url, make_cluster_driver, consume):
    topic = "faults"
    url = f"{proxied_url}&{QUORUM}"
    server_driver = make_cluster_driver(url)
    casts = consume(server_driver.listen(Target(topic=topic, server="s1")))
    notes = consume(server_driver.listen_for_notifications([(Target(topic=topic), "info")]))
    client = make_cluster_driver(url)
    client.cast(Target(topic=topic), {}, {"method": "warm", "args": {"i": -1}})
    client.notify(Target(topic=f"{topic}.info"), {}, {"priority": "INFO", "payload": -1})
    wait_for(lambda: casts.count() and notes.count(), 30, message="the first deliveries")

    confirmed: dict[str, set[int]] = {"cast": set(), "notify": set()}
    unconfirmed: Counter[str] = Counter()
    lock = threading.Lock()
    progress = [0]

    def send(kind: str, ids: range) -> None:
        for i in ids:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if kind == "cast":
                        client.cast(Target(topic=topic), {},
                                    {"method": "put", "args": {"i": i}}, retry=None)
                    else:
                        client.notify(Target(topic=f"{topic}.info"), {},
                                      {"priority": "INFO", "payload": i}, retry=None)
                    break
                except (MessageDeliveryFailure, MessagingTimeout):
                    with lock:
                        unconfirmed[kind] += 1
                    assert time.monotonic() < deadline, f"{kind} {i} never confirmed"
            with lock:
                confirmed[kind].add(i)
                progress[0] += 1

    step = COUNT // SENDERS
    threads = [threading.Thread(target=send, args=(kind, range(k * step, (k + 1) * step)))
               for kind in ("cast", "notify") for k in range(SENDERS)]
    began = time.monotonic()
    for t in threads:
        t.start()
    total = 2 * step * SENDERS
    resumes: list[tuple[str, float]] = []
    last_error = ["none"]

    def resumed_after(what: str, when: float, bound: float) -> None:
        """Probe with a cast and a notification of their own until both arrive."""
        probe = -2 - len(resumes)

        def arrived() -> bool:
            return (any(m["args"]["i"] == probe for _, m in list(casts.seen))
                    and any(m["payload"] == probe for _, m in list(notes.seen)))

        while not arrived():
            if time.monotonic() - when >= 120:
                # what the cluster says now (leaders, members, a fresh channel's confirm)
                # tells a queue refusing everyone from a stale client channel apart
                pytest.fail(f"consumers did not resume after {what}; last send error: "
                            f"{last_error[0]}\n"
                            + diagnose(cluster, cluster_vhost,
                                       [topic, f"{topic}.info", f"{topic}.s1"],
                                       "openstack", topic))
            try:
                client.cast(Target(topic=topic), {}, {"method": "put", "args": {"i": probe}})
                client.notify(Target(topic=f"{topic}.info"), {},
                              {"priority": "INFO", "payload": probe})
            except (MessageDeliveryFailure, MessagingTimeout) as exc:
                last_error[0] = str(exc)
                continue
            try:
                wait_for(arrived, 1.0, interval=0.02, message="the probes")
            except AssertionError:
                pass
        resumes.append((what, time.monotonic() - when))

    for cut in range(5):
        wait_for(lambda c=cut: progress[0] >= total * (c + 1) // 10, 300,
                 message="sends to progress")
        when = time.monotonic()
        for p in proxies:
            p.cut_all()
        resumed_after(f"cut {cut + 1}", when, 2 * RETRY_INTERVAL)

    wait_for(lambda: progress[0] >= total * 6 // 10, 300, message="sends to progress")
    leader = cluster.queue_leader(topic, cluster_vhost)
    when = kill_when_safe(cluster, cluster_vhost, [topic, f"{topic}.info", f"{topic}.s1"],
                          leader)
    resumed_after("leader kill", when, 2 * RETRY_INTERVAL)
    wait_for(lambda: progress[0] >= total * 8 // 10, 300, message="sends to progress")
    restart = time.monotonic()
    whole(cluster)
    restart_took = time.monotonic() - restart
    for t in threads:
        t.join(600)
    sent_for = time.monotonic() - began

    def ids(consumer: object, key: str) -> Counter[int]:
        out: Counter[int] = Counter()
        for _, m in consumer.seen:  # type: ignore[attr-defined]
            value = m["args"]["i"] if key == "cast" else m["payload"]
            if value >= 0:
                out[value] += 1
        return out

    wait_for(lambda: confirmed["cast"] <= set(ids(casts, "cast"))
             and confirmed["notify"] <= set(ids(notes, "notify")), 120,
             message="every confirmed send to arrive")
    report = []
    for kind, consumer in (("cast", casts), ("notify", notes)):
        got = ids(consumer, kind)
        lost = confirmed[kind] - set(got)
        dups = sum(n - 1 for n in got.values() if n > 1)
        report.append(f"{kind}: {len(confirmed[kind])} confirmed, {len(lost)} lost, "
                      f"{dups} duplicates, {unconfirmed[kind]} sends not confirmed (sent again)")
        assert not lost, f"{kind}: confirmed but lost: {sorted(lost)[:20]}"
    print(f"\n[{client.url.scheme}] {'; '.join(report)}; sent in {sent_for:.1f} s; resumed "
          + ", ".join(f"{w} {t:.2f} s" for w, t in resumes)
          + f"; restart took {restart_took:.1f} s")
    for what, took in resumes:
        # the consumers reconnect within 2x the retry interval; a kill adds the election
        bound = 2 * RETRY_INTERVAL + (15 if what == "leader kill" else 2)
        assert took < bound, f"consumers resumed {took:.1f} s after {what} (bound {bound} s)"
