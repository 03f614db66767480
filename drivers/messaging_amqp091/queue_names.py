"""Stable reply and fanout queue names (``use_queue_manager``).

With ``use_queue_manager`` a client's reply queue is
``reply_<hostname>:<processname>:<n>`` and an RPC server's fanout queue
``<topic>_fanout_<hostname>:<processname>:<n>``, oslo.messaging 18.x's
format (``amqpdriver.QManager``), instead of a random ``<uuid4 hex>``
suffix. A restarted process finds its queues again (they expire by
``x-expires``, ``rabbit_transient_queues_ttl``, and are not deleted when it
closes), so a large deployment does not delete and create thousands of
queues on every restart.

How ``n`` is chosen differs from oslo on purpose. oslo keeps one counter in
``/dev/shm`` and resets it when it believes the service restarted (a new
process group); processes that disagree on that built the same name and
consumed each other's replies (launchpad bug 2110957). Here ``n`` is a
*slot*: the lowest number whose lock file this process can ``flock``
exclusively, one set of slots per (hostname, processname, queue kind). The
kernel releases the lock when the process exits, however it exits, so:

- two live processes (or two drivers in one process) never hold the same
  slot, hence never build the same name;
- a restarted process takes the lowest free slot again: its old one when
  the processes of that name restart in the same order (and a process
  alone on its name always gets 1).

The lock files live in ``$MESSAGING_QUEUE_NAME_DIR`` if set, else
``$XDG_RUNTIME_DIR/messaging-queue-names``, else
``/dev/shm/messaging-queue-names`` (as oslo, memory-backed), else the
temporary directory. They are empty; their names hash the key, so any
hostname, process name or topic is fine.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import tempfile
import threading

__all__ = ["QueueNameClaim", "claim", "fanout_queue_name", "lock_directory",
           "reply_queue_name"]

LOG = logging.getLogger(__name__)

#: Environment variable naming the lock directory (tests, or a host with no /dev/shm).
DIR_ENV = "MESSAGING_QUEUE_NAME_DIR"
_SUBDIR = "messaging-queue-names"
_lock = threading.Lock()


def lock_directory() -> str:
    """The directory of the slot lock files (created if missing)."""
    explicit = os.environ.get(DIR_ENV)
    if explicit:
        candidates = [explicit]
    else:
        candidates = [os.path.join(base, _SUBDIR) for base in
                      (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm", tempfile.gettempdir())
                      if base]
    for path in candidates:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK | os.X_OK):
            return path
    raise OSError(errno.EACCES, f"no writable directory for queue name slots among "
                                f"{candidates}")


class QueueNameClaim:
    """One held slot: ``<hostname>:<processname>:<n>``, until :meth:`release` or exit."""

    def __init__(self, hostname: str, processname: str, slot: int, fd: int,
                 path: str) -> None:
        self.hostname = hostname
        self.processname = processname
        #: the slot number ``n`` (1, 2, ...)
        self.slot = slot
        self.path = path
        self._fd: int | None = fd

    @property
    def suffix(self) -> str:
        """``<hostname>:<processname>:<n>``, oslo's ``QManager.get()`` format."""
        return f"{self.hostname}:{self.processname}:{self.slot}"

    @property
    def held(self) -> bool:
        """True until released."""
        return self._fd is not None

    def release(self) -> None:
        """Give the slot back (closing the file drops the lock); idempotent."""
        with _lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __repr__(self) -> str:
        return f"QueueNameClaim({self.suffix!r}, held={self.held})"


def _key_hash(hostname: str, processname: str, kind: str) -> str:
    raw = "\0".join((hostname, processname, kind)).encode("utf-8", "surrogateescape")
    return hashlib.sha256(raw).hexdigest()[:32]


def claim(hostname: str, processname: str, kind: str, directory: str | None = None,
          ) -> QueueNameClaim:
    """Claim the lowest free slot of (``hostname``, ``processname``, ``kind``).

    ``kind`` separates the sets of slots: ``"reply"`` for reply queues, the
    topic for a fanout queue (so a process's first server on every topic,
    and its reply queue, all get 1). Raises ``OSError`` if no lock file can
    be created.
    """
    directory = directory or lock_directory()
    base = os.path.join(directory, _key_hash(hostname, processname, kind))
    slot = 1
    while True:
        path = f"{base}.{slot}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            slot += 1
            continue
        LOG.debug("Claimed queue name slot %s:%s:%d (%s, %s)", hostname, processname, slot,
                  kind, path)
        return QueueNameClaim(hostname, processname, slot, fd, path)


def reply_queue_name(held: QueueNameClaim) -> str:
    """``reply_<hostname>:<processname>:<n>``."""
    return f"reply_{held.suffix}"


def fanout_queue_name(topic: str, held: QueueNameClaim) -> str:
    """``<topic>_fanout_<hostname>:<processname>:<n>``."""
    return f"{topic}_fanout_{held.suffix}"
