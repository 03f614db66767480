"""When to try connecting again, and to which host: failover and capped backoff.

Plain logic without a client library. The I/O loop asks :meth:`ReconnectPolicy.next_host`
which host to try, and after a failure :meth:`ReconnectPolicy.failed` how long
to wait before the next attempt.

Two kinds of failure are told apart, so that a broker coming back is used at
once without hammering one that is up but unwell:

- *refused*: nothing listens on the port (``ECONNREFUSED``); such an attempt
  costs one TCP connect, so the hosts are tried again every
  ``rabbit_retry_interval`` for as long as that lasts; a broker that starts
  listening is found within one interval;
- anything else (a handshake that failed, a timeout, a refused login): the
  wait after each failed pass over the hosts grows by
  ``rabbit_retry_backoff``, starting at ``rabbit_retry_interval`` and capped
  at ``rabbit_interval_max`` (oslo.messaging's meaning of these options).

After a lost connection the first attempt waits ``kombu_reconnect_delay``.

Which host comes first is decided once per connection by :func:`spread_hosts`:
like oslo.messaging, each connection shuffles the URL's hosts, so the
connections of many processes spread over a cluster's nodes instead of all
landing on the first one (and one node's loss takes only its share of them,
and of the queue leaders their declarations placed there).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import TypeVar

__all__ = ["STRATEGIES", "ReconnectPolicy", "spread_hosts"]

T = TypeVar("T")

#: ``kombu_failover_strategy`` values: the order of hosts within each pass.
STRATEGIES = ("round-robin", "shuffle")


def spread_hosts(hosts: Sequence[T], rng: random.Random | None = None) -> list[T]:
    """The URL's ``hosts`` in the order one new connection tries them (a fresh shuffle).

    Every connection calls it once; ``round-robin`` then walks this order,
    ``shuffle`` draws a new one per pass. ``rng``: a seeded generator (tests).
    """
    order = list(hosts)
    (rng or random).shuffle(order)
    return order


def _passes(hosts: int, strategy: str) -> Iterator[int]:
    """Host indices, pass after pass; every pass tries every host once.

    ``shuffle`` draws a new order for each pass (kombu's shuffle draws each
    host independently, so one pass could try a dead host twice and miss a
    live one).
    """
    order = list(range(hosts))
    while True:
        if strategy == "shuffle":
            random.shuffle(order)
        yield from order


class ReconnectPolicy:
    """Failover over ``hosts`` with capped backoff.

    :param hosts: how many hosts the URL names.
    :param strategy: the order within a pass, one of :data:`STRATEGIES`.
    """

    def __init__(self, hosts: int, strategy: str, *,
                 retry_interval: float, retry_backoff: float, interval_max: float,
                 reconnect_delay: float) -> None:
        self._hosts = max(1, hosts)
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown failover strategy {strategy!r}; known: {STRATEGIES}")
        self._order = _passes(self._hosts, strategy)
        self.retry_interval = max(0.0, retry_interval)
        self.retry_backoff = max(0.0, retry_backoff)
        self.interval_max = max(self.retry_interval, interval_max)
        self.reconnect_delay = max(0.0, reconnect_delay)
        self._attempts = 0
        self._pass_refused = True
        self._backoff_passes = 0

    def next_host(self) -> int:
        """Index of the host to try next."""
        return next(self._order)

    def lost(self) -> float:
        """An established connection broke: seconds to wait before the first attempt."""
        self.connected()
        return self.reconnect_delay

    def connected(self) -> None:
        """An attempt succeeded: start afresh."""
        self._attempts = 0
        self._pass_refused = True
        self._backoff_passes = 0

    def failed(self, refused: bool) -> float:
        """An attempt failed (``refused``: nothing listened); seconds to wait before the next.

        The next host of a pass is tried at once; after a full pass the wait
        is the base interval if every host refused, else the growing backoff.
        """
        self._attempts += 1
        self._pass_refused = self._pass_refused and refused
        if self._attempts % self._hosts:
            return 0.0
        if self._pass_refused:
            delay = self.retry_interval
        else:
            delay = min(self.retry_interval + self.retry_backoff * self._backoff_passes,
                        self.interval_max)
            self._backoff_passes += 1
        self._pass_refused = True
        return delay
