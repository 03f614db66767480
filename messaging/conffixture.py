"""``ConfFixture``: the test fixture OpenStack unit tests use to configure the library.

::

    self.messaging_conf = self.useFixture(messaging.conffixture.ConfFixture(cfg.CONF))
    self.messaging_conf.transport_url = 'fake:/'
    self.messaging_conf.response_timeout = 5

It registers every option group of the library on ``conf`` (``[DEFAULT]``,
``[oslo_messaging_notifications]``, each installed driver's), so a test can
override any of them; the overrides are dropped at cleanup (``conf.reset()``).
``set_override`` and ``clear_override`` also accept the old
``notification_driver``, ``notification_transport_url`` and
``notification_topics`` names while the fixture is in use, as oslo.messaging's.

It is a ``fixtures.Fixture`` when the ``fixtures`` package is installed (as
in every OpenStack test environment); without it, a small stand-in with the
same ``setUp``/``cleanUp`` protocol, usable as a context manager.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .options import register_opts

__all__ = ["ConfFixture"]

#: Old option names (group DEFAULT) and where they live now.
_OLD_NAMES = {
    "notification_driver": "driver",
    "notification_transport_url": "transport_url",
    "notification_topics": "topics",
}
_NOTIFICATIONS = "oslo_messaging_notifications"


class _Fixture:
    """The part of ``fixtures.Fixture`` this module needs, when fixtures is absent."""

    def __init__(self) -> None:
        self._cleanups: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def setUp(self) -> None:
        self._cleanups = []

    def addCleanup(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._cleanups.append((fn, args, kwargs))

    def cleanUp(self) -> None:
        while self._cleanups:
            fn, args, kwargs = self._cleanups.pop()
            fn(*args, **kwargs)

    def getDetails(self) -> dict[str, Any]:
        return {}

    def __enter__(self) -> Any:
        self.setUp()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanUp()


try:
    import fixtures as _fixtures
except ImportError:  # pragma: no cover - fixtures is in every OpenStack test env
    _Base: type = _Fixture
else:
    _Base = _fixtures.Fixture


def _translate_override(wrapped: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(wrapped)
    def set_override(name: str, override: Any, group: str | None = None, **kw: Any) -> Any:
        if name in _OLD_NAMES:
            name, group = _OLD_NAMES[name], _NOTIFICATIONS
        return wrapped(name, override, group, **kw)

    set_override.wrapped = wrapped  # type: ignore[attr-defined]
    return set_override


def _translate_clear(wrapped: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(wrapped)
    def clear_override(name: str, group: str | None = None) -> Any:
        if name in _OLD_NAMES:
            name, group = _OLD_NAMES[name], _NOTIFICATIONS
        return wrapped(name, group)

    clear_override.wrapped = wrapped  # type: ignore[attr-defined]
    return clear_override


class ConfFixture(_Base):  # type: ignore[misc]  # fixtures is untyped
    """Registers the library's options on ``conf`` and resets them after the test.

    :param conf: an oslo.config ``ConfigOpts`` (often ``cfg.CONF``).
    :param transport_url: sets ``transport_url`` at once (``'fake:/'`` in unit tests).
    """

    def __init__(self, conf: Any, transport_url: str | None = None) -> None:
        super().__init__()
        self.conf = conf
        register_opts(conf)
        if transport_url is not None:
            self.transport_url = transport_url

    def setUp(self) -> None:
        super().setUp()
        self._wrap_overrides()
        self.addCleanup(self._unwrap_overrides)
        self.addCleanup(self.conf.reset)

    def _wrap_overrides(self) -> None:
        if not hasattr(self.conf.set_override, "wrapped"):
            self.conf.set_override = _translate_override(self.conf.set_override)
        if not hasattr(self.conf.clear_override, "wrapped"):
            self.conf.clear_override = _translate_clear(self.conf.clear_override)

    def _unwrap_overrides(self) -> None:
        for name in ("set_override", "clear_override"):
            method = getattr(self.conf, name)
            if hasattr(method, "wrapped"):
                setattr(self.conf, name, method.wrapped)

    @property
    def transport_url(self) -> Any:
        """``[DEFAULT] transport_url``."""
        return self.conf.transport_url

    @transport_url.setter
    def transport_url(self, value: str) -> None:
        self.conf.set_override("transport_url", value)

    @property
    def response_timeout(self) -> Any:
        """Seconds a call waits for its reply (``rpc_response_timeout``)."""
        return self.conf.rpc_response_timeout

    @response_timeout.setter
    def response_timeout(self, value: float) -> None:
        self.conf.set_override("rpc_response_timeout", value)
