"""Keeping a driver's listeners registered in the matchmaker while they live.

Each listener hands its entries (key, value) over as a :class:`Registration`.
The first registration is made at once, so a server is findable when
``listen`` returns; after that every entry is refreshed each
``zmq_target_update`` seconds with a TTL of ``zmq_target_expire``, on a
worker thread, so an entry outlives its server by at most the TTL if the
process dies without unregistering. When the matchmaker cannot be reached
the registrar keeps trying every second, and the listener reports itself
as not consuming meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from messaging import deadlines

from .matchmaker import Matchmaker, MatchmakerError
from .options import Settings

__all__ = ["Registrar", "Registration"]

LOG = logging.getLogger(__name__)
_RETRY_AFTER_FAILURE = 1.0


class Registration:
    """The matchmaker entries of one listener."""

    def __init__(self, entries: Sequence[tuple[str, str]]) -> None:
        self.entries = tuple(entries)
        #: every entry was written at least once, and the listener was not removed since
        self.registered = False
        #: why the last attempt failed (None after a success)
        self.error: str | None = None
        self.removed = False
        self.lock = threading.Lock()


class Registrar:
    """Registers, refreshes and removes entries; one per driver, thread-safe."""

    def __init__(self, matchmaker: Matchmaker, settings: Settings,
                 workers: ThreadPoolExecutor) -> None:
        self.matchmaker = matchmaker
        self._ttl = float(settings.zmq_target_expire)
        self._period = float(settings.zmq_target_update)
        self._workers = workers
        self._registrations: set[Registration] = set()
        self._lock = threading.Lock()
        self._timer: deadlines.TimerHandle | None = None
        self._closed = False

    def add(self, registration: Registration) -> bool:
        """Register now (in the caller's thread) and keep refreshing; True if it worked."""
        ok = self._write(registration)
        with self._lock:
            self._registrations.add(registration)
            if not self._closed and (self._timer is None or not ok):
                if self._timer is not None:
                    self._timer.cancel()
                self._schedule(self._period if ok else _RETRY_AFTER_FAILURE)
        return ok

    def remove(self, registration: Registration) -> Future[None]:
        """Stop refreshing and delete the entries (on a worker thread)."""
        with self._lock:
            self._registrations.discard(registration)
        with registration.lock:
            registration.removed = True
            registration.registered = False
        try:
            return self._workers.submit(self._delete, registration)
        except RuntimeError:  # workers shut down: delete here
            done: Future[None] = Future()
            self._delete(registration)
            done.set_result(None)
            return done

    def close(self) -> None:
        """Stop refreshing (entries still registered are removed by their listeners)."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    # -- internals --------------------------------------------------------------------

    def _write(self, registration: Registration) -> bool:
        with registration.lock:
            if registration.removed:
                return False
            try:
                for key, value in registration.entries:
                    self.matchmaker.register(key, value, self._ttl)
            except MatchmakerError as exc:
                if registration.error is None:
                    LOG.warning("Cannot register %d matchmaker entr%s in %s (retrying): %s",
                                len(registration.entries),
                                "y" if len(registration.entries) == 1 else "ies",
                                self.matchmaker.describe(), exc)
                registration.error = str(exc)
                registration.registered = False
                return False
            if registration.error is not None:
                LOG.info("Registered in %s again", self.matchmaker.describe())
            registration.error = None
            registration.registered = True
            return True

    def _delete(self, registration: Registration) -> None:
        with registration.lock:
            for key, value in registration.entries:
                try:
                    self.matchmaker.unregister(key, value)
                except MatchmakerError as exc:
                    LOG.warning("Cannot remove the matchmaker entry %s -> %s (it expires by "
                                "itself): %s", key, value, exc)

    def _schedule(self, delay: float) -> None:
        self._timer = deadlines.schedule(delay, self._tick)

    def _tick(self) -> None:
        try:
            self._workers.submit(self._refresh)
        except RuntimeError:
            pass

    def _refresh(self) -> None:
        with self._lock:
            self._timer = None
            registrations = list(self._registrations)
        ok = all([self._write(r) for r in registrations])
        with self._lock:
            if self._timer is None and not self._closed and self._registrations:
                self._schedule(self._period if ok else _RETRY_AFTER_FAILURE)
