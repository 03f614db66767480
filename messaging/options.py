"""Options as data: one table per group, read from any configuration source.

``conf`` may be an oslo.config ``ConfigOpts`` (the options are registered
on it when the library is handed it, as oslo.messaging does, see
:func:`register_opts`), a plain mapping (flat for ``DEFAULT``, nested by
group name otherwise) or ``None``. Drivers let the transport URL's query
override their options; an unknown key or a bad value raises
:class:`InvalidTransportURL` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .exceptions import InvalidTransportURL

__all__ = ["Option", "DEFAULT_OPTIONS", "resolve_options", "read_option", "register_opts",
           "ensure_registered", "is_config_opts", "list_opts", "set_opt_default",
           "OPTION_GROUPS", "all_option_groups"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One setting: name, type, default and a one-line help text."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    deprecated_names: tuple[str, ...] = ()
    secret: bool = False
    #: A list given by repeating the option in a configuration file (oslo.config's
    #: ``MultiStrOpt``) rather than as one comma-separated value.
    multi: bool = False

    def coerce(self, raw: Any) -> Any:
        """Convert a raw value (often a string from a URL) to this option's type."""
        if raw is None:
            return None
        if self.type is bool:
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).strip().lower() in _TRUE:
                value = True
            elif str(raw).strip().lower() in _FALSE:
                value = False
            else:
                raise ValueError(f"{raw!r} is not a boolean")
        elif self.type is list:
            value = [p.strip() for p in raw.split(",") if p.strip()] if isinstance(raw, str) \
                else list(raw)
        else:
            value = self.type(raw)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {list(self.choices)}")
        return value


DEFAULT_OPTIONS: tuple[Option, ...] = (
    Option("transport_url", str, "rabbit://", "URL of the bus to use when none is given.",
           secret=True),
    Option("control_exchange", str, "openstack",
           "Exchange that topics belong to when a Target names none."),
    Option("rpc_response_timeout", float, 60.0, "Seconds to wait for a call's reply."),
    Option("executor_thread_pool_size", int, 64,
           "Worker threads of the threading executor.",
           deprecated_names=("rpc_thread_pool_size",)),
    Option("rpc_ping_enabled", bool, False,
           "RPC servers also answer oslo_rpc_server_ping with 'pong' (a health check any "
           "client can call, oslo.messaging's included; messaging ping URL TOPIC)."),
)

#: Every option group this library knows, filled in by the modules that own them.
OPTION_GROUPS: dict[str, tuple[Option, ...]] = {"DEFAULT": DEFAULT_OPTIONS}
#: Entry point group naming each installed package's option tables (group -> table).
OPTIONS_NAMESPACE = "messaging.options"


def all_option_groups() -> dict[str, tuple[Option, ...]]:
    """Every option table installed, loading drivers' tables from their entry points."""
    from importlib import metadata

    groups = dict(OPTION_GROUPS)
    for ep in metadata.entry_points(group=OPTIONS_NAMESPACE):
        if ep.name in groups:
            continue
        try:
            groups[ep.name] = tuple(ep.load())
        except Exception:  # a driver whose client library is missing: skip its table
            continue
    return groups

_MISSING = object()


def _lookup(conf: Any, group: str, name: str) -> Any:
    if conf is None:
        return _MISSING
    if isinstance(conf, Mapping) and not hasattr(conf, "register_opt"):  # ConfigOpts is a Mapping
        section: Any = conf if group == "DEFAULT" else conf.get(group, _MISSING)
        if group == "DEFAULT" and "DEFAULT" in conf and name in conf["DEFAULT"]:
            section = conf["DEFAULT"]
        if not isinstance(section, Mapping):
            return _MISSING
        return section.get(name, _MISSING)
    try:  # an oslo.config ConfigOpts or anything with attribute access
        section = conf if group == "DEFAULT" else getattr(conf, group)
        return getattr(section, name)
    except Exception:  # NoSuchOptError, NoSuchGroupError, AttributeError...
        return _MISSING


def read_option(conf: Any, group: str, option: Option) -> Any:
    """Read one option from ``conf``, falling back to its default."""
    for name in (option.name, *option.deprecated_names):
        value = _lookup(conf, group, name)
        if value is not _MISSING:
            return option.coerce(value)
    return option.default


def resolve_options(conf: Any, group: str, options: Sequence[Option],
                    query: Mapping[str, str] | None = None,
                    url: str = "", overrides: Mapping[str, Any] | None = None,
                    ) -> dict[str, Any]:
    """Values of ``options`` from ``conf``, overridden by ``overrides`` then ``query``.

    Every key of ``query`` must name one of ``options``.
    """
    by_name = {o.name: o for o in options}
    values = {o.name: read_option(conf, group, o) for o in options}
    for key, raw in (overrides or {}).items():
        if key in by_name:
            values[key] = by_name[key].coerce(raw)
    for key, raw in (query or {}).items():
        opt = by_name.get(key)
        if opt is None:
            raise InvalidTransportURL(url, f"Unknown option {key!r} in transport URL query; "
                                           f"known: {', '.join(sorted(by_name))}")
        try:
            values[key] = opt.coerce(raw)
        except (TypeError, ValueError) as exc:
            raise InvalidTransportURL(url, f"Bad value for option {key!r} in transport URL "
                                           f"query: {exc}") from None
    return values


_CFG_OPTS: dict[str, list[Any]] = {}


def _cfg_opts(group: str, options: Sequence[Option]) -> list[Any]:
    """oslo.config ``Opt`` objects of one group, built once and shared.

    Every registration uses the same objects, so registering twice is a no-op
    and :func:`set_opt_default` reaches every ConfigOpts they are on.
    """
    cached = _CFG_OPTS.get(group)
    if cached is not None:
        return cached
    from oslo_config import cfg

    kinds = {str: cfg.StrOpt, int: cfg.IntOpt, float: cfg.FloatOpt, bool: cfg.BoolOpt,
             list: cfg.ListOpt}
    opts = []
    for o in options:
        kw: dict[str, Any] = {"default": o.default, "help": o.help}
        if o.secret:
            kw["secret"] = True
        if o.choices is not None and o.type is str:
            kw["choices"] = list(o.choices)
        if o.deprecated_names:
            kw["deprecated_opts"] = [cfg.DeprecatedOpt(n) for n in o.deprecated_names]
        kind = cfg.MultiStrOpt if o.multi else kinds[o.type]
        opts.append(kind(o.name, **kw))
    return _CFG_OPTS.setdefault(group, opts)


def list_opts() -> list[tuple[str, list[Any]]]:
    """oslo.config ``Opt`` objects per group (for oslo-config-generator); needs oslo.config.

    Returns copies, so a tool that changes them changes nothing here.
    """
    import copy

    return [(group, copy.deepcopy(_cfg_opts(group, options)))
            for group, options in all_option_groups().items()]


def set_opt_default(group: str, name: str, default: Any) -> None:
    """Change the default of an option wherever it is (or will be) registered."""
    for opt in _cfg_opts(group, all_option_groups()[group]):
        if opt.name == name:
            opt.default = default


def is_config_opts(conf: Any) -> bool:
    """True if ``conf`` is an oslo.config ``ConfigOpts`` (something options register on)."""
    return callable(getattr(conf, "register_opt", None))


def register_opts(conf: Any, groups: Iterable[str] | None = None) -> None:
    """Register our options on an oslo.config object.

    The library never touches a ``ConfigOpts`` it was not given (least of
    all the global ``cfg.CONF``). It registers on one it is given, as
    oslo.messaging does, because oslo.config reads nothing from a
    configuration file for an option that is not registered: the transport
    factories, ``TransportURL.parse(conf)`` and the logging handlers do it
    (:func:`ensure_registered`). Call it yourself to read the options before that.
    """
    tables = all_option_groups()
    for group, options in tables.items():
        if groups is not None and group not in groups:
            continue
        for opt in _cfg_opts(group, options):
            try:
                conf.register_opt(opt, group=None if group == "DEFAULT" else group)
            except Exception as exc:  # DuplicateOptError: already registered differently
                if type(exc).__name__ != "DuplicateOptError":
                    raise


def ensure_registered(conf: Any, groups: Iterable[str] | None = None) -> None:
    """:func:`register_opts` when ``conf`` is an oslo.config ``ConfigOpts``; else nothing."""
    if is_config_opts(conf):
        register_opts(conf, groups)
