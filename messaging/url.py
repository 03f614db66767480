"""Transport URLs: ``scheme://user:pass@host1:port1,host2:port2/vhost?k=v``.

Parsing is strict enough to name the bad part of a URL, and the password
never leaves this module in clear text except through :meth:`TransportURL.
__str__`, which a caller uses only to hand the URL to a client library.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

from .exceptions import InvalidTransportURL

__all__ = ["TransportHost", "TransportURL", "mask_url"]

LOG = logging.getLogger(__name__)
_MASK = "****"


@dataclass(frozen=True)
class TransportHost:
    """One broker address of a URL, with optional credentials."""

    hostname: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        pw = _MASK if self.password else self.password
        return (f"TransportHost(hostname={self.hostname!r}, port={self.port!r}, "
                f"username={self.username!r}, password={pw!r})")

    def netloc(self, mask: bool = False) -> str:
        """Render ``user:pass@host:port`` (password masked when asked)."""
        out = ""
        if self.username is not None or self.password is not None:
            out = quote(self.username or "", "")
            if self.password is not None:
                out += ":" + (_MASK if mask else quote(self.password, ""))
            out += "@"
        if self.hostname:
            out += f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        if self.port is not None:
            out += f":{self.port}"
        return out


@dataclass(frozen=True)
class TransportURL:
    """A parsed transport URL; immutable, hashable, round-trips through ``str()``.

    ``query`` maps each key to its value; a key repeated in the URL gets its
    values joined with ``,`` as oslo.messaging does (``a=1&a=2`` -> ``'1,2'``).
    """

    transport: str
    hosts: tuple[TransportHost, ...] = ()
    virtual_host: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        """The driver name: the part of the transport before any ``+``."""
        return self.transport.split("+", 1)[0]

    @classmethod
    def parse(cls, url: str | TransportURL) -> TransportURL:
        """Parse ``url``; raise :class:`InvalidTransportURL` naming what is wrong."""
        if isinstance(url, TransportURL):
            return url
        if not isinstance(url, str):
            raise InvalidTransportURL(repr(url), f"Wrong URL type: {type(url).__name__}")
        shown = mask_url(url)
        if "://" not in url:
            if ":" in url and url.split(":", 1)[0].isidentifier():
                scheme, rest = url.split(":", 1)
                rest = rest.lstrip("/")
                url = f"{scheme}://" if not rest else f"{scheme}:///{rest}"
            else:
                raise InvalidTransportURL(shown, f"No scheme specified in {shown!r}")
        scheme, rest = url.split("://", 1)
        if not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
            raise InvalidTransportURL(shown, f"Invalid scheme {scheme!r} in {shown!r}")
        query_s = ""
        if "?" in rest:
            rest, query_s = rest.split("?", 1)
        if "#" in query_s:
            query_s = query_s.split("#", 1)[0]
        netloc, slash, path = rest.partition("/")
        vhost = unquote(path) if slash else None
        hosts = tuple(_parse_host(h, shown) for h in netloc.split(",")) if netloc else ()
        _warn_mixed_credentials(hosts, shown)
        query: dict[str, str] = {}
        try:
            pairs = parse_qsl(query_s, keep_blank_values=True, strict_parsing=bool(query_s))
        except ValueError as exc:
            raise InvalidTransportURL(shown, f"Invalid query {query_s!r}: {exc}") from None
        for key, value in pairs:
            query[key] = f"{query[key]},{value}" if key in query else value
        return cls(scheme.lower(), hosts, vhost, query)

    def with_hosts(self, hosts: Iterable[TransportHost]) -> TransportURL:
        """Return a copy with other hosts (drivers use it for failover lists)."""
        return TransportURL(self.transport, tuple(hosts), self.virtual_host, dict(self.query))

    def render(self, mask: bool) -> str:
        """Render the URL; with ``mask`` the passwords are replaced by ``****``."""
        out = f"{self.transport}://" + ",".join(h.netloc(mask) for h in self.hosts)
        if self.virtual_host is not None:
            out += "/" + quote(self.virtual_host, "")
        if self.query:
            out += "?" + "&".join(f"{quote(k, '')}={quote(v, ',')}" for k, v in self.query.items())
        return out

    def __str__(self) -> str:
        return self.render(mask=False)

    def __repr__(self) -> str:
        return f"<TransportURL {self.render(mask=True)}>"

    def __hash__(self) -> int:
        return hash((self.transport, self.hosts, self.virtual_host,
                     tuple(sorted(self.query.items()))))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransportURL):
            return NotImplemented
        return (self.transport, self.hosts, self.virtual_host, dict(self.query)) == (
            other.transport, other.hosts, other.virtual_host, dict(other.query))


def _parse_host(spec: str, shown: str) -> TransportHost:
    if not spec:
        raise InvalidTransportURL(shown, f"Empty host in {shown!r}")
    username = password = None
    if "@" in spec:
        creds, spec = spec.rsplit("@", 1)
        user, colon, pw = creds.partition(":")
        username = unquote(user)
        password = unquote(pw) if colon else None
    hostname: str | None
    port_s = ""
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise InvalidTransportURL(shown, f"Unterminated IPv6 address {spec!r}")
        hostname = spec[1:end]
        tail = spec[end + 1:]
        if tail and not tail.startswith(":"):
            raise InvalidTransportURL(shown, f"Unexpected text after IPv6 address: {tail!r}")
        port_s = tail[1:]
    elif spec.count(":") > 1:
        raise InvalidTransportURL(shown, f"IPv6 address {spec!r} must be in brackets")
    else:
        hostname, _, port_s = spec.partition(":")
    port = None
    if port_s:
        if not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise InvalidTransportURL(shown, f"Invalid port {port_s!r} for host {hostname!r}")
        port = int(port_s)
    return TransportHost(unquote(hostname) or None, port, username, password)


def _warn_mixed_credentials(hosts: tuple[TransportHost, ...], shown: str) -> None:
    with_creds = [h.username is not None for h in hosts]
    if any(with_creds) and not all(with_creds):
        LOG.warning("Transport URL %s gives credentials for some hosts only; "
                    "hosts without them connect without credentials", shown)


def mask_url(url: str) -> str:
    """Mask any password in a URL-like string, for logs and error messages."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    parts = []
    for spec in netloc.split(","):
        if "@" in spec:
            creds, hostpart = spec.rsplit("@", 1)
            if ":" in creds:
                creds = creds.split(":", 1)[0] + ":" + _MASK
            spec = f"{creds}@{hostpart}"
        parts.append(spec)
    return f"{scheme}://{','.join(parts)}{sep}{tail}"
