"""Transport URLs: ``scheme://user:pass@host1:port1,host2:port2/vhost?k=v``.

Parsing is strict enough to name the bad part of a URL, and the password
never leaves this module in clear text except through :meth:`TransportURL.
__str__`, which a caller uses only to hand the URL to a client library.
Signatures, ``str()``, equality and hashing are oslo.messaging's.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

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
            out += f"[{self.hostname}]" if _is_ipv6(self.hostname) else self.hostname
        if self.port is not None:
            out += f":{self.port}"
        return out


_UNSET: Any = object()
_URL_ARGS = ("conf", "transport", "virtual_host", "hosts", "query")


class TransportURL:
    """A parsed transport URL: a value (read-only), hashable, printable with ``str()``.

    Built as oslo.messaging builds it, ``TransportURL(conf, transport,
    virtual_host, hosts, query)``; ``conf`` may be left out
    (``TransportURL('rabbit', 'vhost', hosts)``: a string where ``conf``
    goes is the transport). Without ``conf`` the earlier order of this
    library, ``TransportURL('rabbit', hosts, 'vhost', query)``, still works.
    ``query`` maps each key to its value; a key repeated in the URL gets its
    values joined with ``,``
    (``a=1&a=2`` -> ``'1,2'``). Equality and hash compare the transport,
    virtual host and hosts, not the query, as oslo.messaging's do.
    """

    __slots__ = ("conf", "hosts", "query", "transport", "virtual_host")

    conf: Any
    transport: str
    virtual_host: str | None
    hosts: tuple[TransportHost, ...]
    query: Mapping[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = list(_URL_ARGS)
        if args and isinstance(args[0], str):  # no conf: the transport comes first
            names.remove("conf")
        if len(args) > len(names):
            raise TypeError(f"TransportURL takes at most {len(names)} positional arguments "
                            f"({', '.join(names)})")
        values: dict[str, Any] = dict(zip(names, args, strict=False))
        if "conf" not in names and isinstance(values.get("virtual_host"), (list, tuple)):
            # this library's first order, (transport, hosts, virtual_host, query): a
            # virtual host is never a sequence, so the two cannot be confused
            values["virtual_host"], values["hosts"] = values.get("hosts"), values["virtual_host"]
        for key, value in kwargs.items():
            if key not in _URL_ARGS:
                raise TypeError(f"TransportURL got an unexpected keyword argument {key!r}")
            if key in values:
                raise TypeError(f"TransportURL got multiple values for argument {key!r}")
            values[key] = value
        hosts = tuple(values.get("hosts") or ())
        for host in hosts:
            if not isinstance(host, TransportHost):
                raise TypeError(f"hosts must be TransportHost objects, not {host!r}")
        object.__setattr__(self, "conf", values.get("conf"))
        object.__setattr__(self, "transport", values.get("transport"))
        object.__setattr__(self, "virtual_host", values.get("virtual_host"))
        object.__setattr__(self, "hosts", hosts)
        object.__setattr__(self, "query", dict(values.get("query") or {}))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"TransportURL is read-only; build another to change {name!r}")

    @property
    def scheme(self) -> str:
        """The driver name: the part of the transport before any ``+``."""
        return (self.transport or "").split("+", 1)[0]

    @classmethod
    def parse(cls, conf: Any, url: Any = _UNSET) -> TransportURL:
        """Parse a URL; raise :class:`InvalidTransportURL` naming what is wrong.

        Called as oslo.messaging's ``TransportURL.parse(conf, url=None)``
        (without ``url``, or with an empty one, ``conf``'s ``transport_url``
        is parsed) or with the URL alone: ``TransportURL.parse('rabbit://h')``.
        """
        if url is _UNSET:
            if isinstance(conf, (str, TransportURL)) or not _is_conf(conf):
                conf, url = None, conf
            else:
                url = None
        if isinstance(url, TransportURL):
            return url
        if not url and _is_conf(conf):
            from . import options

            options.ensure_registered(conf, ["DEFAULT"])
            url = options.read_option(conf, "DEFAULT", options.DEFAULT_OPTIONS[0])
        if not isinstance(url, str):
            raise InvalidTransportURL(repr(url), f"Wrong URL type: {type(url).__name__}")
        shown = mask_url(url)
        # The standard library's split is oslo.messaging's: the same scheme rules
        # ('rabbit:h' has no hosts), fragments, and brackets checks.
        try:
            parts = urlparse(url)
        except ValueError as exc:
            raise InvalidTransportURL(shown, f"Invalid URL {shown!r}: {exc}") from None
        # A scheme starts with a letter (RFC 3986); Python 3.10's split still takes
        # '127.0.0.1:5672' as the scheme '127.0.0.1', 3.11 and later do not.
        if not parts.scheme or not parts.scheme[0].isalpha():
            raise InvalidTransportURL(shown, f"No scheme specified in {shown!r}")
        vhost = unquote(parts.path[1:]) if parts.path.startswith("/") else None
        # Empty entries of the host list are skipped ('rabbit://h1,,h2/', 'rabbit://,/').
        hosts = tuple(_parse_host(spec, shown) for spec in parts.netloc.split(",") if spec)
        _warn_mixed_credentials(hosts, shown)
        return cls(conf, parts.scheme, vhost, hosts, _parse_query(parts.query))

    def with_hosts(self, hosts: Iterable[TransportHost]) -> TransportURL:
        """Return a copy with other hosts (drivers use it for failover lists)."""
        return TransportURL(self.conf, self.transport, self.virtual_host, tuple(hosts),
                            self.query)

    def render(self, mask: bool) -> str:
        """Render the URL as oslo.messaging does; with ``mask`` passwords read ``****``.

        The host list is always followed by ``/`` and the virtual host is
        quoted keeping ``/`` (``rabbit:///`` with no hosts, ``rabbit://h//vh``
        for the virtual host ``/vh``), so the text is oslo.messaging's.
        """
        out = f"{self.transport}://" + ",".join(h.netloc(mask) for h in self.hosts) + "/"
        if self.virtual_host:
            out += quote(self.virtual_host)
        if self.query:
            out += "?" + urlencode(self.query, doseq=True)
        return out

    def __str__(self) -> str:
        return self.render(mask=False)

    def __repr__(self) -> str:
        return f"<TransportURL {self.render(mask=True)}>"

    def __hash__(self) -> int:
        return hash((self.hosts, self.transport, self.virtual_host))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransportURL):
            return NotImplemented
        return (self.transport, self.virtual_host, self.hosts) == (
            other.transport, other.virtual_host, other.hosts)

    def __reduce__(self) -> tuple[Any, ...]:
        return (TransportURL, (None, self.transport, self.virtual_host, self.hosts,
                               dict(self.query)))


def _is_conf(conf: Any) -> bool:
    """True for a configuration source: a ConfigOpts-like object or a mapping."""
    return conf is not None and not isinstance(conf, (str, bytes, int, float)) and (
        isinstance(conf, Mapping) or hasattr(conf, "register_opts"))


def _parse_query(text: str) -> dict[str, str]:
    """The URL query as oslo.messaging reads it.

    Pairs split on ``&`` and are percent- and ``+``-decoded; a pair with an
    empty value (``b=``) or without ``=`` (``b``) is left out, as are empty
    pairs (``&&``); a repeated key gets its values joined with ``,``
    (``a=1&a=2`` -> ``'1,2'``), in the order given.
    """
    return {key: ",".join(values) for key, values in parse_qs(text).items()}


def _is_ipv6(name: str) -> bool:
    """True for an IPv6 address, with or without a ``%scope``."""
    try:
        ipaddress.IPv6Address(name)
    except ValueError:
        return False
    return True


def _parse_port(text: str, hostname: str | None, shown: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidTransportURL(shown, f"Invalid port {text!r} for host {hostname!r}")
    return int(text)


def _parse_host(spec: str, shown: str) -> TransportHost:
    """One entry of the host list: ``[user[:pass]@]host[:port]``.

    As oslo.messaging: the user name and password are percent-decoded, the
    host name is kept as written; a host with several ``:`` and no brackets
    is an IPv6 address without a port (``::1``). Refused where oslo would
    pass on something no client can connect to: a port that is not a number
    in 1-65535, text after an IPv6 address's ``]``, several ``:`` in a name
    that is not an IPv6 address.
    """
    username = password = None
    if "@" in spec:
        creds, spec = spec.rsplit("@", 1)
        user, colon, pw = creds.partition(":")
        username = unquote(user)
        password = unquote(pw) if colon else None
    if not spec:
        return TransportHost(None, None, username, password)
    hostname: str
    port = None
    if spec.startswith("["):
        hostname, bracket, tail = spec[1:].partition("]")
        if not bracket:
            raise InvalidTransportURL(shown, f"Unterminated IPv6 address {spec!r}")
        if tail and not tail.startswith(":"):
            raise InvalidTransportURL(shown, f"Unexpected text after IPv6 address: {tail!r}")
        if tail:
            port = _parse_port(tail[1:], hostname, shown)
    elif spec.count(":") == 1:
        hostname, _, port_s = spec.partition(":")
        port = _parse_port(port_s, hostname, shown)
    elif ":" in spec and not _is_ipv6(spec):
        raise InvalidTransportURL(shown, f"Invalid host {spec!r}: several ':' in a name "
                                         "that is not an IPv6 address (an IPv6 address "
                                         "with a port goes in brackets)")
    else:
        hostname = spec
    return TransportHost(hostname, port, username, password)


def _warn_mixed_credentials(hosts: tuple[TransportHost, ...], shown: str) -> None:
    # oslo's rule: a host has credentials when it has both a user name and a password
    with_creds = [h.username is not None and h.password is not None for h in hosts]
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
