"""Closing the bus file waits for the operations under way (closing a connection in use crashes)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from messaging_sqlite.store import Store

from messaging.exceptions import MessageDeliveryFailure
from messaging.testing.helpers import wait_for


def test_close_waits_for_a_write_under_way_and_later_ones_fail(tmp_path):
    path = str(tmp_path / "bus.db")
    store = Store(path, busy_timeout=20)
    store.declare("q", [("ex", "key")])
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    order: list[str] = []

    def publish() -> None:
        store.publish("ex", "key", b"body")  # waits for the lock
        order.append("published")

    def close() -> None:
        store.close()
        order.append("closed")

    writer = threading.Thread(target=publish)
    writer.start()
    wait_for(lambda: store._users == 1, message="the write to be under way")
    closer = threading.Thread(target=close)
    closer.start()
    wait_for(lambda: store._closed, message="close() to begin")
    other.execute("COMMIT")  # the lock is free: the write goes through, then close returns
    writer.join(20)
    closer.join(20)
    other.close()

    assert order == ["published", "closed"]
    with pytest.raises(MessageDeliveryFailure, match="was closed"):
        store.publish("ex", "key", b"late")
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
    check.close()
