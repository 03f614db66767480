"""Finding servers: matchmaker lookups, cached, with dead endpoints avoided.

Clients resolve a matchmaker key to the listeners registered under it and
pick one round-robin (competing servers share the work this way; ZeroMQ
has no shared queue). Lookups that found someone are cached for
``zmq_lookup_cache`` seconds (a server started meanwhile gets work once the
cache expires); an empty answer is never cached. A call asks afresh
(``choose(fresh=True)``): a server whose ``wait()`` returned has left the
matchmaker, and a cached answer naming it would send the call into its
closed listener.
The I/O thread reports endpoints it cannot reach (:meth:`Directory.down`)
and those it reaches again (:meth:`Directory.up`); a down endpoint is not
chosen while it stays listed, so a server that died stops getting work at
once instead of when its matchmaker entry expires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from messaging import deadlines
from messaging.health import DriverMonitor

from .frames import Peer
from .matchmaker import Matchmaker, MatchmakerError
from .options import Settings

__all__ = ["ANY_GROUP", "Directory"]

LOG = logging.getLogger(__name__)

#: ``group`` value of :meth:`Directory.choose` meaning "whatever the pool".
ANY_GROUP = "\0any"
_FIRST_RETRY = 0.02
_MAX_RETRY = 0.5


class Directory:
    """Cached lookups and round-robin choice over live endpoints. Thread-safe."""

    def __init__(self, matchmaker: Matchmaker, settings: Settings,
                 workers: ThreadPoolExecutor) -> None:
        self.matchmaker = matchmaker
        self._cache_for = settings.zmq_lookup_cache
        expire = settings.zmq_target_expire
        #: how long an endpoint stays "down" without news: its entry has expired by then
        self._down_for = float(expire) if expire > 0 else 60.0
        self._workers = workers
        self._cache: dict[str, tuple[float, tuple[Peer, ...]]] = {}
        self._down: dict[str, float] = {}
        self._up: set[str] = set()
        self._next: dict[tuple[str, str | None], int] = {}
        self._lock = threading.Lock()
        #: the last lookup error, cleared by the next successful lookup
        self.last_error: str | None = None
        #: the driver's health monitor: the matchmaker counts as its connection
        self.monitor: DriverMonitor | None = None

    # -- lookups ----------------------------------------------------------------------

    def peers(self, key: str, fresh: bool = False) -> tuple[Peer, ...]:
        """Listeners registered under ``key`` (cached unless ``fresh``).

        When the matchmaker fails, the last known answer is used if there is
        one; otherwise :class:`MatchmakerError` is raised.
        """
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and not fresh and cached[0] > now:
            return cached[1]
        try:
            values = self.matchmaker.lookup(key)
        except MatchmakerError as exc:
            self.last_error = str(exc)
            if self.monitor is not None:
                self.monitor.lost(self.matchmaker, f"the matchmaker is unreachable: {exc}")
            if cached is not None:
                LOG.warning("Matchmaker lookup of %s failed, using the last answer: %s", key,
                            exc)
                return cached[1]
            raise
        peers = tuple(sorted({Peer.decode(v) for v in values}))
        if peers:
            self._cache[key] = (now + self._cache_for, peers)
        else:  # "nobody" is never cached: a listener that just started must be found
            self._cache.pop(key, None)
        self.last_error = None
        if self.monitor is not None:
            self.monitor.connected(self.matchmaker)
        return peers

    def answers(self, key: str, group: str | None = ANY_GROUP) -> bool:
        """True if :meth:`choose` (or :meth:`peers`) can answer from the cache, without a lookup."""
        cached = self._cache.get(key)
        if cached is None or cached[0] <= time.monotonic():
            return False
        return any(not self.is_down(p.endpoint) for p in cached[1]
                   if group == ANY_GROUP or p.group == group)

    def forget(self, key: str) -> None:
        """Drop the cached answer for ``key`` (a local listener came or went)."""
        self._cache.pop(key, None)

    def choose(self, key: str, group: str | None = ANY_GROUP, fresh: bool = False,
               ) -> Peer | None:
        """A live listener of ``key`` (of pool ``group``), round-robin; None if there is none.

        When every cached listener is down, the matchmaker is asked again
        before giving up. ``fresh``: ask the matchmaker at once, not the
        cache (while the matchmaker answers; when it fails, the last answer
        is used as always).
        """
        passes = (True,) if fresh and self.last_error is None else (False, True)
        for again in passes:
            peers = self.peers(key, again)
            if group != ANY_GROUP:
                peers = tuple(p for p in peers if p.group == group)
            live = [p for p in peers if not self.is_down(p.endpoint)]
            if live:
                slot = (key, group)
                n = self._next.get(slot, 0)
                self._next[slot] = n + 1
                return live[n % len(live)]
        return None

    def groups(self, key: str) -> dict[str | None, list[Peer]]:
        """Listeners of ``key`` by pool (None: the default group), down ones included."""
        out: dict[str | None, list[Peer]] = {}
        for peer in self.peers(key):
            out.setdefault(peer.group, []).append(peer)
        return out

    def wait_for(self, key: str, group: str | None, deadline: float,
                 abandoned: Callable[[], bool], found: Callable[[Peer], None],
                 failed: Callable[[MatchmakerError], None] | None = None) -> None:
        """Look ``key`` up again and again (backing off) until a live listener appears.

        ``found(peer)`` runs on a worker thread once one does; nothing runs
        if ``abandoned()`` turns true or ``deadline`` (monotonic) passes: the
        caller's own deadline handles that. ``failed(error)`` hears of each
        lookup the matchmaker refused.
        """
        delay = _FIRST_RETRY

        def attempt() -> None:
            nonlocal delay
            if abandoned():
                return
            try:
                peer = self._choose_fresh(key, group)
            except MatchmakerError as exc:
                LOG.debug("Matchmaker lookup of %s failed: %s", key, exc)
                if failed is not None:
                    failed(exc)
                peer = None
            if peer is not None:
                found(peer)
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            delay = min(delay * 2, _MAX_RETRY)
            deadlines.schedule(min(delay, left), lambda: self._submit(attempt))

        deadlines.schedule(_FIRST_RETRY, lambda: self._submit(attempt))

    def _choose_fresh(self, key: str, group: str | None) -> Peer | None:
        self.forget(key)
        return self.choose(key, group)

    def _submit(self, fn: Callable[[], None]) -> None:
        try:
            self._workers.submit(fn)
        except RuntimeError:  # the driver was cleaned up
            pass

    # -- endpoint health (reported by the I/O thread) -----------------------------------

    def down(self, endpoint: str) -> None:
        """``endpoint`` cannot be reached: do not choose it for a while."""
        self._up.discard(endpoint)
        self._down[endpoint] = time.monotonic() + self._down_for

    def up(self, endpoint: str) -> None:
        """``endpoint`` answered (a connection to it completed its handshake)."""
        self._down.pop(endpoint, None)
        self._up.add(endpoint)

    def is_up(self, endpoint: str) -> bool:
        """True while a connection to ``endpoint`` is known to work."""
        return endpoint in self._up

    def is_down(self, endpoint: str) -> bool:
        """True while ``endpoint`` is known unreachable."""
        until = self._down.get(endpoint)
        if until is None:
            return False
        if until < time.monotonic():
            self._down.pop(endpoint, None)
            return False
        return True
