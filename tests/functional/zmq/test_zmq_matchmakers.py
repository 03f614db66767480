"""The matchmakers themselves: entries with a TTL, refresh, removal, namespaces, purge.

Each test runs on the local matchmaker and on Redis (127.0.0.1:6379), in a
namespace of its own.
"""

from __future__ import annotations

import os
import stat
import time
import uuid

import pytest
import redis
from messaging_zmq.matchmaker import MatchmakerError, load_matchmaker
from messaging_zmq.matchmaker.local import LocalMatchmaker
from messaging_zmq.options import load_settings

from messaging.exceptions import InvalidTransportURL
from messaging.testing.helpers import wait_for
from messaging.url import TransportURL


def _matchmaker(url: str):
    parsed = TransportURL.parse(url)
    return load_matchmaker(parsed, load_settings(None, parsed))


@pytest.fixture
def mm(url):
    matchmaker = _matchmaker(url)
    yield matchmaker
    matchmaker.close()


def test_register_lookup_unregister(mm):
    mm.register("rpc/openstack/t", "tcp://127.0.0.1:1", 30)
    mm.register("rpc/openstack/t", "tcp://127.0.0.1:2", 30)
    mm.register("rpc/openstack/t", "tcp://127.0.0.1:2", 30)  # a refresh, not a second entry
    assert sorted(mm.lookup("rpc/openstack/t")) == ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"]
    mm.unregister("rpc/openstack/t", "tcp://127.0.0.1:1")
    assert mm.lookup("rpc/openstack/t") == ["tcp://127.0.0.1:2"]
    mm.unregister("rpc/openstack/t", "tcp://127.0.0.1:1")  # gone already: nothing happens
    mm.unregister("rpc/openstack/t", "tcp://127.0.0.1:2")
    assert mm.lookup("rpc/openstack/t") == []
    assert mm.lookup("rpc/openstack/never") == []


def test_entries_expire_unless_refreshed(mm):
    """A refreshed entry outlives its first TTL; the others lapse.

    Load-proof: the refreshed entry must be listed only by lookups made
    less than one TTL after its last refresh began (a stalled test thread
    proves nothing either way), and the test goes on until five such
    lookups were made after its first TTL ran out.
    """
    ttl = 1.0
    began = time.monotonic()
    mm.register("k", "short", 0.5)
    mm.register("k", "refreshed", ttl)
    mm.register("k", "forever", 0)
    assert sorted(mm.lookup("k")) == ["forever", "refreshed", "short"]
    refreshed_at, checked = began, 0
    while True:
        time.sleep(0.1)
        found = mm.lookup("k")
        looked = time.monotonic()
        if looked - began > ttl and looked - refreshed_at < ttl:
            assert "refreshed" in found, (f"lapsed {looked - refreshed_at:.2f}s after its "
                                          f"refresh (TTL {ttl}s): {found}")
            checked += 1
        if checked >= 5 and "short" not in found:
            break
        assert looked - began < 30, f"only {checked} timely lookups in 30s: {found}"
        refreshed_at = time.monotonic()
        mm.register("k", "refreshed", ttl)
    assert "forever" in found
    wait_for(lambda: mm.lookup("k") == ["forever"], 10, message="the refreshed entry to lapse")


def test_values_and_keys_are_opaque_strings(mm):
    key, value = "notify/open%2Fstack/t.info", "tcp://[::1]:5#pool%20a"
    mm.register(key, value, 30)
    assert mm.lookup(key) == [value]
    assert mm.lookup("notify/open%2Fstack/t.error") == []


def test_namespaces_are_isolated_and_purged(matchmaker, namespace, mm):
    other_url = (f"zmq+redis://127.0.0.1:6379/{namespace}-other" if matchmaker == "redis"
                 else f"zmq:///{namespace}-other")
    other = _matchmaker(other_url)
    try:
        mm.register("k", "mine", 30)
        other.register("k", "theirs", 30)
        assert mm.lookup("k") == ["mine"] and other.lookup("k") == ["theirs"]
        assert mm.purge() >= 1
        assert mm.lookup("k") == [] and other.lookup("k") == ["theirs"]
    finally:
        other.purge()
        other.close()


def test_redis_key_disappears_with_its_last_entry(redis_available):
    namespace = f"mm-{uuid.uuid4().hex[:10]}"
    mm = _matchmaker(f"zmq+redis://127.0.0.1:6379/{namespace}")
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        mm.register("k", "a", 0.4)
        name = f"messaging-zmq:{namespace}:k"
        assert client.exists(name) and 0 < client.pttl(name) <= 400
        wait_for(lambda: not client.exists(name), 3, message="the Redis key to expire")
        mm.register("k", "b", 0)
        assert client.pttl(name) == -1  # an entry without expiry keeps the key
    finally:
        mm.purge()
        mm.close()
        client.close()


def test_local_matchmaker_files_are_private_to_the_user():
    mm = _matchmaker(f"zmq:///mm-{uuid.uuid4().hex[:10]}")
    assert isinstance(mm, LocalMatchmaker)
    try:
        mm.register("rpc/openstack/t", "tcp://127.0.0.1:1", 30)
        for path in (mm.base, mm.root):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        [entry] = os.listdir(os.path.join(mm.root, "rpc%2Fopenstack%2Ft"))
        assert os.stat(os.path.join(mm.root, "rpc%2Fopenstack%2Ft", entry)).st_mtime > \
            time.time() + 25  # the expiry time is the file's mtime
    finally:
        mm.purge()


def test_local_matchmaker_refuses_a_directory_others_can_write(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    mm = _matchmaker(f"zmq:///x?zmq_matchmaker_dir={shared}")
    with pytest.raises(MatchmakerError, match="writable by nobody else"):
        mm.register("k", "v", 30)


@pytest.mark.parametrize("url, needle", [
    ("zmq://127.0.0.1:6379/", "takes no hosts"),
    ("zmq+redis://127.0.0.1:6379,127.0.0.1:6380/", "one Redis server"),
    ("zmq+nope:///", "installed: local, redis"),
    ("zmq:///?rpc_zmq_matchmaker=nope", "installed: local, redis"),
])
def test_bad_matchmaker_urls_are_refused(url, needle):
    with pytest.raises(InvalidTransportURL, match=needle):
        _matchmaker(url)
