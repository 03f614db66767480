"""The ``redis`` matchmaker (``zmq+redis://[:password@]host:port``): entries in Redis.

Each key is a sorted set ``messaging-zmq:<namespace>:<key>`` whose members
are the values and whose scores are their expiry times, taken from the
Redis server's clock (``TIME``), so hosts with skewed clocks agree. A
lookup returns the members whose expiry is still ahead; registering prunes
expired members and keeps the whole key alive only as long as its longest
entry, so a key whose servers all died disappears by itself. (oslo's
matchmaker kept a plain set with one expiry for the whole key, so a dead
server stayed listed as long as any other server refreshed the key.)

Every operation is one command or Lua script (atomic), tried once and
bounded by ``zmq_matchmaker_timeout`` (the registrar and the lookups retry
on their own schedule); Redis errors become :class:`MatchmakerError`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import redis
import redis.exceptions
from redis.backoff import NoBackoff
from redis.retry import Retry

from messaging.exceptions import InvalidTransportURL
from messaging.url import TransportURL

from ..options import Settings
from .base import Matchmaker, MatchmakerError

__all__ = ["KEY_PREFIX", "RedisMatchmaker", "unreachable"]

KEY_PREFIX = "messaging-zmq"
DEFAULT_PORT = 6379

# Redis < 5 replicates scripts verbatim and refuses writes after TIME unless asked
# to replicate effects; newer servers always do (the call is then a no-op).
_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

_REGISTER = _NOW + """
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local forever = redis.call('ZRANGEBYSCORE', KEYS[1], '+inf', '+inf', 'LIMIT', 0, 1)
  local ms = math.ceil(ttl * 1000)
  if #forever == 0 then
    local left = redis.call('PTTL', KEYS[1])
    if left < ms then redis.call('PEXPIRE', KEYS[1], ms) end
  end
else
  redis.call('ZADD', KEYS[1], '+inf', ARGV[1])
  redis.call('PERSIST', KEYS[1])
end
return 1
"""

_LOOKUP = _NOW + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.6f', now), '+inf')
"""


def unreachable(host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                timeout: float = 2.0) -> str | None:
    """None if a Redis server answers PING at ``host:port``, else why not (tests, tools)."""
    client = redis.Redis(host=host, port=port, socket_timeout=timeout,
                         socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        return f"Redis on {host}:{port} unreachable: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


class RedisMatchmaker(Matchmaker):
    """Entries in one Redis server, as sorted sets scored by expiry time."""

    networked: ClassVar[bool] = True

    def __init__(self, url: TransportURL, settings: Settings) -> None:
        super().__init__(url, settings)
        shown = url.render(mask=True)
        if len(url.hosts) > 1:
            raise InvalidTransportURL(shown, "The redis zmq matchmaker uses one Redis server; "
                                             "the URL names several")
        host = url.hosts[0] if url.hosts else None
        self.host = (host.hostname if host else None) or "127.0.0.1"
        self.port = (host.port if host else None) or DEFAULT_PORT
        timeout = settings.zmq_matchmaker_timeout
        self._client = redis.Redis(
            host=self.host, port=self.port,
            username=host.username or None if host else None,
            password=host.password if host else None,
            socket_timeout=timeout, socket_connect_timeout=timeout,
            decode_responses=True, retry=Retry(NoBackoff(), 0))
        self.prefix = f"{KEY_PREFIX}:{self.namespace}:"
        self._register = self._client.register_script(_REGISTER)
        self._lookup = self._client.register_script(_LOOKUP)

    def _run(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except redis.exceptions.RedisError as exc:
            raise MatchmakerError(f"{what} failed on Redis at {self.host}:{self.port}: "
                                  f"{type(exc).__name__}: {exc}") from None

    def register(self, key: str, value: str, ttl: float) -> None:
        """ZADD with the expiry as score; prune expired members; extend the key's TTL."""
        self._run("register", lambda: self._register(keys=[self.prefix + key],
                                                     args=[value, float(ttl)]))

    def unregister(self, key: str, value: str) -> None:
        """ZREM."""
        self._run("unregister", self._client.zrem, self.prefix + key, value)

    def lookup(self, key: str) -> list[str]:
        """Members whose expiry (score) is after the Redis server's now."""
        found = self._run("lookup", lambda: self._lookup(keys=[self.prefix + key]))
        return [str(v) for v in found]

    def purge(self) -> int:
        """Delete every key of this namespace (SCAN, then DEL)."""
        def scan_and_delete() -> int:
            count = 0
            for key in self._client.scan_iter(match=self._escaped_prefix() + "*", count=500):
                count += int(self._client.delete(key))
            return count
        return int(self._run("purge", scan_and_delete))

    def _escaped_prefix(self) -> str:
        out = []
        for ch in self.prefix:
            out.append("\\" + ch if ch in "*?[]\\" else ch)
        return "".join(out)

    def close(self) -> None:
        """Close the connection pool."""
        try:
            self._client.close()
        except redis.exceptions.RedisError:
            pass

    def describe(self) -> str:
        """Server and key prefix."""
        return f"redis matchmaker at {self.host}:{self.port} (keys {self.prefix}*)"
