"""Fail the docs build when a public name has no entry in the API reference.

The public names are the ``__all__`` of the modules users import from
(``api_coverage_modules`` in ``conf.py``). After every page is read, each
name must be documented as a Python object, under the module that defines
it (``messaging.RPCClient`` is documented as ``messaging.rpc.client.RPCClient``)
or under the module that exports it. A missing one is a warning, so
``sphinx-build -W`` (``tox -e docs``) fails and names it.
"""

from __future__ import annotations

import importlib
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

LOG = logging.getLogger(__name__)


def _names_for(module_name: str, name: str, obj: Any) -> set[str]:
    """Where ``module_name.name`` may be documented."""
    names = {f"{module_name}.{name}"}
    owner, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(owner, str) and isinstance(qualname, str):
        names.add(f"{owner}.{qualname}")
    return names


def check(app: Sphinx, env: BuildEnvironment) -> None:
    documented = set(env.get_domain("py").objects)
    for module_name in app.config.api_coverage_modules:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            where = _names_for(module_name, name, getattr(module, name))
            if not where & documented:
                LOG.warning("public name %s.%s is not in the API reference (doc/api.md): "
                            "add its module to an automodule block", module_name, name,
                            type="api-coverage")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("api_coverage_modules", [], "env")
    app.connect("env-check-consistency", check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
