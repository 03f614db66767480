"""Every public name of the installed oslo.messaging exists here, at the same path.

The walk covers the package and each public submodule (no ``_`` in the
path; not its own ``tests`` or ``hacking``): the names in the module's
``__all__`` (or, without one, the public names it defines), the public
attributes of each class, and the parameters of each function and method
(oslo's positional parameters, in order, then its keyword-only ones). A
difference fails the test unless :data:`OMITTED` lists it with the reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from typing import Any

import pytest

#: Deliberate omissions, by where oslo.messaging defines the thing (a module,
#: ``module.Name`` or ``module.Class.attribute``), with the reason.
OMITTED: dict[str, str] = {
    "oslo_messaging.version":
        "pbr's version_info object; use importlib.metadata.version('messaging')",
    "oslo_messaging.dispatcher":
        "DispatcherBase is oslo's internal dispatcher protocol (dispatch(incoming)); ours is "
        "messaging.server.Dispatcher (listen + handle), and a subclass of one cannot work "
        "with the other",
    "oslo_messaging.notify.listener.NotificationServerBase":
        "oslo's internal common base; NotificationServer is the base of "
        "BatchNotificationServer here, so isinstance(x, NotificationServer) covers both. "
        "Its batch_size and batch_timeout parameters live on the BatchNotificationDispatcher: "
        "get_batch_notification_listener takes both",
    "oslo_messaging.server._OrderedTaskRunner":
        "the private base of oslo's servers; its decorate_ordered and reset_states drive "
        "oslo's ordered start/stop/wait machinery and are not an API (the lifecycle, start, "
        "stop, wait and reset, is the same)",
    "oslo_messaging.notify.dispatcher.NotificationDispatcher.dispatch":
        "the dispatcher protocol differs (see oslo_messaging.dispatcher); listeners run it",
    "oslo_messaging.notify.dispatcher.BatchNotificationDispatcher.dispatch":
        "as NotificationDispatcher.dispatch",
    "oslo_messaging.notify.notifier.Driver.notify":
        "the second parameter is named 'message' (oslo: 'msg'); notifier drivers are called "
        "positionally, as oslo's Notifier calls them",
}


def _oslo_modules(oslo: Any) -> list[str]:
    """The public modules, found without importing the others.

    (``pkgutil.walk_packages`` would import ``oslo_messaging.tests``, whose
    ``__init__`` monkey-patches the whole process with eventlet.)
    """
    names: list[str] = []
    pending = [oslo]
    while pending:
        package = pending.pop()
        names.append(package.__name__)
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            last = info.name.rsplit(".", 1)[1]
            if last.startswith("_") or last in ("tests", "hacking"):
                continue
            if info.ispkg:
                pending.append(importlib.import_module(info.name))
            else:
                names.append(info.name)
    return sorted(names)


def _public_names(module: Any) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    if module.__name__ == "oslo_messaging":  # star imports, no __all__ of its own
        return [n for n in dir(module) if not n.startswith("_")
                and not inspect.ismodule(getattr(module, n))]
    return [n for n, v in vars(module).items() if not n.startswith("_")
            and getattr(v, "__module__", None) == module.__name__]


def _where(obj: Any, fallback: str) -> str:
    """Where oslo defines ``obj`` (``module.Qualname``), else ``fallback``."""
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{name}" if module and name else fallback


def _attr_where(cls: type, attr: str) -> str:
    for klass in cls.__mro__:
        if attr in vars(klass):
            return f"{klass.__module__}.{klass.__qualname__}.{attr}"
    return f"{cls.__module__}.{cls.__qualname__}.{attr}"


def _omitted(where: str) -> bool:
    return any(where == key or where.startswith(key + ".") for key in OMITTED)


def _signature_gap(theirs: Any, ours: Any) -> str | None:
    try:
        their_sig, our_sig = inspect.signature(theirs), inspect.signature(ours)
    except (TypeError, ValueError):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    their_pos = [p.name for p in their_sig.parameters.values()
                 if p.kind in positional and not p.name.startswith("_")]
    our_params = list(our_sig.parameters.values())
    our_pos = [p.name for p in our_params if p.kind in positional]
    var_pos = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in our_params)
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in our_params)
    if our_pos[:len(their_pos)] != their_pos and not (var_pos and var_kw):
        return f"positional parameters {their_pos}, ours {our_pos}"
    their_kw = [p.name for p in their_sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and not p.name.startswith("_")]
    missing = [k for k in their_kw if k not in our_sig.parameters and not var_kw]
    if missing:
        return f"keyword-only parameters {missing} missing"
    return None


def _all_gaps(oslo: Any) -> list[tuple[str, str]]:
    """Every difference as ``(where oslo defines it, what differs)``, omissions included."""
    gaps: list[tuple[str, str]] = []
    for mod_name in _oslo_modules(oslo):
        our_name = "messaging" + mod_name[len("oslo_messaging"):]
        try:
            ours = importlib.import_module(our_name)
        except ImportError:
            gaps.append((mod_name, f"no module {our_name}"))
            continue
        theirs = importlib.import_module(mod_name)
        for name in _public_names(theirs):
            path = f"{mod_name}.{name}"
            their_obj = getattr(theirs, name)
            if not hasattr(ours, name):
                gaps.append((_where(their_obj, path), f"{path} missing"))
                continue
            our_obj = getattr(ours, name)
            checks: list[tuple[str, Any, Any]] = []
            if inspect.isclass(their_obj):
                for attr in dir(their_obj):
                    if attr.startswith("_"):
                        continue
                    where = _attr_where(their_obj, attr)
                    if not hasattr(our_obj, attr):
                        gaps.append((where, f"{path}.{attr} missing"))
                    elif callable(getattr(their_obj, attr)):
                        checks.append((where, getattr(their_obj, attr), getattr(our_obj, attr)))
                checks.append((_attr_where(their_obj, "__init__"), their_obj.__init__,
                               our_obj.__init__))
            elif callable(their_obj):
                checks.append((_where(their_obj, path), their_obj, our_obj))
            for where, their_fn, our_fn in checks:
                gap = _signature_gap(their_fn, our_fn)
                if gap:
                    gaps.append((where, f"{where}: {gap}"))
    return gaps


@pytest.fixture(scope="module")
def all_gaps(oslo: Any) -> list[tuple[str, str]]:
    pytest.importorskip("fixtures")  # oslo_messaging.conffixture imports it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _all_gaps(oslo)


def test_every_public_name_of_oslo_messaging_exists_here(all_gaps):
    unexplained = sorted({what for where, what in all_gaps if not _omitted(where)})
    assert unexplained == [], "\n".join(unexplained)


def test_every_omission_still_hides_a_difference(all_gaps):
    """An omission that hides nothing any more must leave the list."""
    stale = [key for key in OMITTED
             if not any(where == key or where.startswith(key + ".") for where, _ in all_gaps)]
    assert stale == []
