"""The ``local`` matchmaker: small files in a per-user directory, for one host.

No service to run: every process of the user on this host sees the same
directory (``$XDG_RUNTIME_DIR/messaging-zmq`` or
``<tmp>/messaging-zmq-<uid>``, or ``zmq_matchmaker_dir``), which must
belong to the user and be writable by nobody else. Layout::

    <dir>/<namespace>/<key>/<sha256 of value>    content: the value

A file's modification time is its expiry time: registering writes the file
and sets its mtime ``ttl`` seconds ahead, a lookup lists the key's
directory and keeps the files whose mtime is still in the future. Writes go
through a temporary file and ``os.replace``, so a reader never sees half a
value. Files expired for longer than a minute are swept by lookups.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
import time
from urllib.parse import quote

from messaging.exceptions import InvalidTransportURL
from messaging.url import TransportURL

from ..options import Settings
from .base import Matchmaker, MatchmakerError

__all__ = ["LocalMatchmaker"]

#: Expiry written for entries without a TTL (about 30 years ahead).
_FOREVER = 30 * 365 * 86400.0
#: Expired entries older than this are removed by lookups (a stalled refresh may still come).
_SWEEP_AFTER = 60.0
_MAX_NAME = 150


def _dir_name(text: str) -> str:
    """A readable, file-system-safe directory name for ``text`` (hashed when too long)."""
    name = quote(text, safe="") or "_"
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name) > _MAX_NAME:
        name = "h-" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return name


class LocalMatchmaker(Matchmaker):
    """Entries as files under a directory shared by the user's processes on this host."""

    def __init__(self, url: TransportURL, settings: Settings) -> None:
        super().__init__(url, settings)
        if url.hosts:
            raise InvalidTransportURL(url.render(mask=True), (
                "The local zmq matchmaker takes no hosts: servers are found through files on "
                "this host. Use zmq+redis://host:port to find servers on other hosts."))
        self.base = settings.matchmaker_dir
        self.root = os.path.join(self.base, _dir_name(self.namespace or "_"))
        self._checked = False

    def _key_dir(self, key: str) -> str:
        return os.path.join(self.root, _dir_name(key))

    def _check_base(self) -> None:
        """Create the base directory, private to this user, or refuse one that is not.

        The base directory (in a shared temporary directory by default) must
        belong to this user and be writable by nobody else, or anybody could
        plant entries that send this user's messages elsewhere.
        """
        if self._checked:
            return
        try:
            os.mkdir(self.base, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise MatchmakerError(f"cannot create {self.base}: {exc}") from None
        info = os.lstat(self.base)
        if (not stat.S_ISDIR(info.st_mode)
                or (hasattr(os, "getuid") and info.st_uid != os.getuid())
                or info.st_mode & 0o022):
            raise MatchmakerError(f"refusing to use {self.base}: it must be a directory owned "
                                  f"by this user and writable by nobody else")
        self._checked = True

    def _make_dirs(self, directory: str) -> None:
        """Create the namespace and key directories (mode 0700)."""
        self._check_base()
        for path in (self.root, directory):
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass

    def register(self, key: str, value: str, ttl: float) -> None:
        """Write (or rewrite) the value's file with its expiry as mtime."""
        directory = self._key_dir(key)
        name = hashlib.sha256(value.encode("utf-8")).hexdigest()
        expires = time.time() + (ttl if ttl > 0 else _FOREVER)
        tmp = os.path.join(directory, f".{name}.{os.getpid()}.{threading.get_ident()}")
        for attempt in range(3):
            try:
                self._make_dirs(directory)
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(value)
                os.utime(tmp, (expires, expires))
                os.replace(tmp, os.path.join(directory, name))
                return
            except FileNotFoundError:  # the directory was removed under us: make it again
                if attempt == 2:
                    raise MatchmakerError(f"cannot register in {directory}: it keeps "
                                          f"disappearing") from None
            except OSError as exc:
                raise MatchmakerError(f"cannot register in {directory}: {exc}") from None

    def unregister(self, key: str, value: str) -> None:
        """Delete the value's file, and the key's directory once empty."""
        directory = self._key_dir(key)
        name = hashlib.sha256(value.encode("utf-8")).hexdigest()
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise MatchmakerError(f"cannot unregister from {directory}: {exc}") from None
        try:
            os.rmdir(directory)  # fails while other entries (or a registration) are there
        except OSError:
            pass

    def lookup(self, key: str) -> list[str]:
        """Values whose file has not expired."""
        self._check_base()
        directory = self._key_dir(key)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise MatchmakerError(f"cannot read {directory}: {exc}") from None
        now = time.time()
        out = []
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(directory, name)
            try:
                expires = os.stat(path).st_mtime
                if expires <= now:
                    if expires < now - _SWEEP_AFTER:
                        os.unlink(path)
                    continue
                with open(path, encoding="utf-8") as f:
                    out.append(f.read())
            except FileNotFoundError:  # unregistered meanwhile
                continue
            except OSError as exc:
                raise MatchmakerError(f"cannot read {path}: {exc}") from None
        return out

    def purge(self) -> int:
        """Delete the namespace's directory; returns the number of keys it held."""
        try:
            count = len(os.listdir(self.root))
        except FileNotFoundError:
            return 0
        shutil.rmtree(self.root, ignore_errors=True)
        return count

    def describe(self) -> str:
        """The directory of the namespace."""
        return f"local matchmaker in {self.root}"
