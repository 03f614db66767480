"""Exceptions across the wire: a failure travels as plain JSON data.

The server sends class name, module, message, traceback lines, args and
kwargs. The client rebuilds the original type only for built-in exceptions
and modules on its allow-list; anything else becomes
:class:`~messaging.exceptions.RemoteError`. Nothing is unpickled or
evaluated, and no module outside the allow-list is imported.

This library's own errors (``NoSuchMethod``, ``UnsupportedVersion``, ...)
come back as both: an oslo.messaging caller receives them as
``RemoteError`` with ``exc_type`` set and code says
``except messaging.RemoteError``, while code written for this library says
``except messaging.NoSuchMethod``; the rebuilt exception satisfies either.
"""

from __future__ import annotations

import builtins
import importlib
import json
import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from . import exceptions as _exc

__all__ = ["serialize_exception", "deserialize_exception", "ALWAYS_ALLOWED"]

LOG = logging.getLogger(__name__)
_SUFFIX = "_Remote"
#: Modules whose exceptions every client may rebuild.
ALWAYS_ALLOWED = frozenset({"builtins", "exceptions", "messaging.exceptions"})


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def serialize_exception(exc: BaseException) -> dict[str, Any]:
    """Describe ``exc`` (with its traceback) as JSON-safe data."""
    cls = type(exc)
    name = cls.__name__.removesuffix(_SUFFIX)
    module = cls.__module__.removesuffix(_SUFFIX)
    kwargs = getattr(exc, "kwargs", None)
    if isinstance(exc, _exc.MessagingException):
        args: list[Any] = []  # our exceptions rebuild from their kwargs alone
    else:
        args = [_jsonable(a) for a in exc.args]
    message = str(exc)
    return {
        "class": name,
        "module": module,
        "message": message,
        "tb": traceback.format_exception(cls, exc, exc.__traceback__),
        "args": args,
        "kwargs": {str(k): _jsonable(v) for k, v in kwargs.items()}
        if isinstance(kwargs, Mapping) else {},
    }


def _find_class(module: str, name: str, allowed: frozenset[str]) -> type[BaseException] | None:
    if module.startswith("oslo_messaging") and name in _exc.__all__:
        module = "messaging.exceptions"  # oslo's own errors map to ours
    if module not in allowed:
        return None
    if module in ("builtins", "exceptions"):
        cls = getattr(builtins, name, None)
    else:
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            return None
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls
    return None


#: oslo.messaging builds these from their constructor arguments but sends only the
#: message: read the arguments back from it, so ``exc.method`` is the method.
_OSLO_MESSAGES = {
    "NoSuchMethod": re.compile(r"Endpoint does not support RPC method (?P<method>.*)\Z", re.S),
    "UnsupportedVersion": re.compile(
        r"Endpoint does not support RPC version (?P<version>.*)\. "
        r"Attempted method: (?P<method>.*)\Z", re.S),
}


def _from_oslo_message(name: str, message: str, args: Any) -> tuple[Any, dict[str, Any]]:
    """Constructor arguments of one of our errors, from an oslo peer's failure."""
    pattern = _OSLO_MESSAGES.get(name)
    found = pattern.match(message) if pattern is not None else None
    if found is None:
        return args, {}
    return [], {k: (None if v == "None" else v) for k, v in found.groupdict().items()}


def deserialize_exception(data: Mapping[str, Any] | str,
                          allowed_modules: Iterable[str] = ()) -> BaseException:
    """Rebuild the exception ``data`` describes, or a :class:`RemoteError`."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return _exc.RemoteError("Unknown", str(data), "")
    if not isinstance(data, Mapping):
        return _exc.RemoteError("Unknown", str(data), "")
    name = str(data.get("class", "Exception")).removesuffix(_SUFFIX)
    module = str(data.get("module", "")).removesuffix(_SUFFIX)
    message = str(data.get("message", ""))
    tb_lines = data.get("tb") or []
    tb_text = "".join(tb_lines) if isinstance(tb_lines, list) else str(tb_lines)
    cls = _find_class(module, name, ALWAYS_ALLOWED | frozenset(allowed_modules))
    if cls is None:
        return _exc.RemoteError(name, message, tb_text)
    args = data.get("args") or []
    kwargs = data.get("kwargs") or {}
    if module.startswith("oslo_messaging") and not kwargs:
        args, kwargs = _from_oslo_message(name, message, args)
    try:
        exc = cls(*args, **kwargs) if isinstance(args, list) and isinstance(kwargs, dict) \
            else cls(message)
    except Exception:
        LOG.debug("Could not rebuild %s.%s from its arguments", module, name, exc_info=True)
        return _exc.RemoteError(name, message, tb_text)
    if isinstance(exc, _exc.MessagingException) and not isinstance(exc, _exc.RemoteError):
        exc = _as_remote_error(exc, name, message, tb_text)
    add_note = getattr(exc, "add_note", None)  # Python 3.11+
    if tb_text and add_note is not None:
        add_note("Remote traceback:\n" + tb_text.rstrip())
    exc.remote_traceback = tb_text  # type: ignore[attr-defined]
    return exc


_REMOTE_CLASSES: dict[type[BaseException], type[BaseException]] = {}


def _remote_class(cls: type[BaseException]) -> type[BaseException]:
    """``cls`` that is also a :class:`RemoteError`, named ``<Name>_Remote`` as oslo's are."""
    dual = _REMOTE_CLASSES.get(cls)
    if dual is None:
        def __str__(self: Any) -> str:  # what an oslo.messaging caller reads
            return f"Remote error: {self.exc_type} {self.value}\n{self.traceback}."

        dual = type(f"{cls.__name__}{_SUFFIX}", (cls, _exc.RemoteError),
                    {"__module__": f"{cls.__module__}{_SUFFIX}", "__str__": __str__,
                     "__doc__": f"A remote {cls.__name__}, also a RemoteError."})
        dual = _REMOTE_CLASSES.setdefault(cls, dual)
    return dual


def _as_remote_error(exc: BaseException, name: str, message: str,
                     tb_text: str) -> BaseException:
    """Make a rebuilt exception of ours also a :class:`RemoteError` carrying the remote text."""
    try:
        exc.__class__ = _remote_class(type(exc))
    except TypeError:  # an exotic layout: keep the typed exception
        return exc
    # RemoteError's attributes (oslo callers read them), next to the type's own.
    exc.exc_type = name  # type: ignore[attr-defined]
    exc.value = message  # type: ignore[attr-defined]
    exc.traceback = tb_text  # type: ignore[attr-defined]
    return exc
