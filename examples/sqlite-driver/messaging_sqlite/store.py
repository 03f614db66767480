"""The bus itself: queues, bindings and messages in one SQLite file.

AMQP's model, reduced to what the library needs: a message published to
``(exchange, routing_key)`` is copied into every queue bound with that pair
(nothing bound: dropped, as a broker drops it); consumers lease messages
(``owner``, ``leased_until``) and delete them to acknowledge, or clear the
lease to give them back. A lease that runs out makes the message visible
again, so a process that died holding messages loses none of them.

Times are wall-clock seconds (``time.time()``): several processes share them.
Each thread gets its own connection (SQLite connections are not to be
shared); WAL mode lets readers and the one writer proceed together.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from messaging.exceptions import MessageDeliveryFailure

__all__ = ["Delivery", "Store"]

LOG = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    expires REAL            -- private queues: refreshed by their owner; NULL: durable
);
CREATE TABLE IF NOT EXISTS bindings (
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    queue TEXT NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
    PRIMARY KEY (exchange, routing_key, queue)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
    body BLOB NOT NULL,
    expires REAL,           -- a call's request is useless after its deadline
    owner TEXT,             -- the listener holding it, until leased_until
    leased_until REAL,
    redelivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, id);
"""


@dataclass(frozen=True)
class Delivery:
    """A leased message: its row id, queue and bytes."""

    id: int
    queue: str
    body: bytes
    redelivered: bool


class Store:
    """One SQLite bus file; thread-safe (a connection per thread).

    Operations run on the calling thread's own connection; :meth:`close`
    waits for those under way before closing the connections, since closing
    a connection another thread is using is not safe.
    """

    def __init__(self, path: str, busy_timeout: float) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._state = threading.Condition()  # guards _connections, _users and _closed
        self._users = 0
        self._closed = False
        try:
            with self._use() as db:
                db.executescript(_SCHEMA)  # idempotent; runs in its own transaction
        except sqlite3.Error as exc:
            raise MessageDeliveryFailure(f"cannot use the bus file {path}: {exc}") from None

    # -- connections -------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=self._busy_timeout,
                                     isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise MessageDeliveryFailure(f"cannot open the bus file {self.path}: {exc}"
                                             ) from None
            self._local.db = db
            with self._state:
                self._connections.append(db)
        return db

    @contextlib.contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection for one operation, which :meth:`close` waits for."""
        with self._state:
            if self._closed:
                raise MessageDeliveryFailure(f"the bus file {self.path} was closed")
            self._users += 1
        try:
            yield self._db()
        finally:
            with self._state:
                self._users -= 1
                self._state.notify_all()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK``), with SQLite's errors made ours."""
        with self._use() as db:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise MessageDeliveryFailure(f"the bus file is unavailable: {exc}") from None
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise MessageDeliveryFailure(f"the bus file refused a write: {exc}"
                                                 ) from None
                raise

    def close(self) -> None:
        """Close every connection this store opened, once the operations under way end.

        Each operation is bounded by ``busy_timeout``; later ones raise
        ``MessageDeliveryFailure``.
        """
        with self._state:
            self._closed = True
            idle = self._state.wait_for(lambda: self._users == 0,
                                        timeout=self._busy_timeout + 1.0)
            connections, self._connections = (self._connections, []) if idle else ([], [])
        if not idle:
            LOG.warning("Bus file %s still in use at close; its connections are left open",
                        self.path)
        for db in connections:
            try:
                db.close()
            except sqlite3.Error:
                LOG.debug("Closing a bus connection failed", exc_info=True)

    # -- topology ----------------------------------------------------------------------

    def declare(self, queue: str, bindings: Iterable[tuple[str, str]] = (),
                expires: float | None = None) -> None:
        """Create ``queue`` if missing (``expires``: a private queue's lifetime) and bind it."""
        with self._write() as db:
            self._declare(db, queue, bindings, expires)

    @staticmethod
    def _declare(db: sqlite3.Connection, queue: str, bindings: Iterable[tuple[str, str]],
                 expires: float | None) -> None:
        db.execute("INSERT INTO queues (name, expires) VALUES (?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET expires = excluded.expires",
                   (queue, expires))
        db.executemany("INSERT OR IGNORE INTO bindings (exchange, routing_key, queue) "
                       "VALUES (?, ?, ?)", [(ex, key, queue) for ex, key in bindings])

    def refresh(self, queues: Sequence[str], expires: float) -> None:
        """Push back the expiry of private queues still in use."""
        if queues:
            with self._write() as db:
                db.executemany("UPDATE queues SET expires = ? WHERE name = ?",
                               [(expires, q) for q in queues])

    def delete(self, queue: str) -> None:
        """Delete ``queue`` with its bindings and messages."""
        with self._write() as db:
            db.execute("DELETE FROM queues WHERE name = ?", (queue,))

    def sweep(self, now: float) -> None:
        """Drop private queues whose owner is gone and requests past their deadline."""
        with self._write() as db:
            gone = db.execute("DELETE FROM queues WHERE expires IS NOT NULL AND expires < ?",
                              (now,)).rowcount
            stale = db.execute("DELETE FROM messages WHERE expires IS NOT NULL AND expires < ?",
                               (now,)).rowcount
        if gone or stale:
            LOG.debug("Swept %d expired queue(s) and %d expired message(s)", gone, stale)

    # -- publishing --------------------------------------------------------------------

    def publish(self, exchange: str, routing_key: str, body: bytes,
                expires: float | None = None,
                declare: tuple[str, Sequence[tuple[str, str]]] | None = None) -> int:
        """Copy ``body`` into every queue bound to ``(exchange, routing_key)``; return how many.

        ``declare``: a ``(queue, bindings)`` to create first (notifications
        wait for their first listener this way).
        """
        with self._write() as db:
            if declare is not None:
                self._declare(db, declare[0], declare[1], None)
            return db.execute(
                "INSERT INTO messages (queue, body, expires) SELECT queue, ?, ? FROM bindings "
                "WHERE exchange = ? AND routing_key = ?",
                (body, expires, exchange, routing_key)).rowcount

    def send_to_queue(self, queue: str, body: bytes) -> bool:
        """Put ``body`` on ``queue`` if it exists (the default exchange, used for replies)."""
        with self._write() as db:
            return db.execute("INSERT INTO messages (queue, body) SELECT name, ? FROM queues "
                              "WHERE name = ?", (body, queue)).rowcount > 0

    # -- consuming ---------------------------------------------------------------------

    def lease(self, queues: Sequence[str], owner: str, limit: int, lease: float,
              ) -> list[Delivery]:
        """Take up to ``limit`` visible messages of ``queues`` (oldest first) for ``owner``."""
        now = time.time()
        marks = ",".join("?" * len(queues))
        with self._write() as db:
            rows = db.execute(
                f"UPDATE messages SET owner = ?, leased_until = ? WHERE id IN ("
                f" SELECT id FROM messages WHERE queue IN ({marks})"
                f" AND (owner IS NULL OR leased_until < ?)"
                f" AND (expires IS NULL OR expires > ?) ORDER BY id LIMIT ?)"
                f" RETURNING id, queue, body, redelivered",
                (owner, now + lease, *queues, now, now, limit)).fetchall()
        rows.sort()
        return [Delivery(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    def take(self, queue: str, limit: int) -> list[bytes]:
        """Remove and return up to ``limit`` messages of ``queue`` (no lease: for replies)."""
        with self._write() as db:
            rows = db.execute(
                "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE queue = ? "
                "ORDER BY id LIMIT ?) RETURNING id, body", (queue, limit)).fetchall()
        rows.sort()
        return [bytes(r[1]) for r in rows]

    def renew(self, owner: str, lease: float) -> None:
        """Extend the lease of everything ``owner`` holds."""
        with self._write() as db:
            db.execute("UPDATE messages SET leased_until = ? WHERE owner = ?",
                       (time.time() + lease, owner))

    def acknowledge(self, message_id: int, owner: str) -> None:
        """Delete a leased message (only if ``owner`` still holds it)."""
        with self._write() as db:
            db.execute("DELETE FROM messages WHERE id = ? AND owner = ?", (message_id, owner))

    def give_back(self, message_id: int, owner: str) -> None:
        """Make a leased message visible again, marked redelivered."""
        with self._write() as db:
            db.execute("UPDATE messages SET owner = NULL, leased_until = NULL, redelivered = 1 "
                       "WHERE id = ? AND owner = ?", (message_id, owner))

    def depth(self, queue: str) -> int:
        """Messages in ``queue`` (leased or not)."""
        with self._use() as db:
            row = db.execute("SELECT count(*) FROM messages WHERE queue = ?",
                             (queue,)).fetchone()
        return int(row[0])
