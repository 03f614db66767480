"""Sphinx directives that render what the installed drivers declare, so it is never hand-copied.

Usage in a Markdown page::

    ```{messaging-driver} rabbit
    ```

renders the driver behind a scheme: every scheme served by the same class,
the class, the distribution that registers it, its client library, and one
row per field of :class:`messaging.driver.Capabilities` with the value the
driver declares and what it means (the ``:param`` text of that class's
docstring). ::

    ```{messaging-capabilities}
    ```

renders every installed driver side by side, one column per driver class
(``:fields: rpc_delivery requeue`` keeps only those rows). A capability
field without a ``:param`` in the docstring fails the build, so a new
capability is documented where it is declared.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from rst_block import render
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.ext.autodoc.mock import mock
from sphinx.util.docutils import SphinxDirective


def _meanings() -> dict[str, str]:
    """``{field: meaning}`` from the ``:param field:`` lines of ``Capabilities.__doc__``."""
    from messaging.driver import Capabilities

    doc = Capabilities.__doc__ or ""
    found: dict[str, str] = {}
    for match in re.finditer(r":param (\w+):(.*?)(?=\n\s*:param |\Z)", doc, re.S):
        found[match.group(1)] = " ".join(match.group(2).split())
    missing = [f.name for f in dataclasses.fields(Capabilities) if f.name not in found]
    if missing:
        raise ExtensionError(f"Capabilities fields without a :param in its docstring: "
                             f"{', '.join(missing)}")
    return found


def _shown(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "**no**"
    if value in ("", None):
        return "\\-"
    return str(value).replace("\n", " ")


def _drivers(app: Sphinx) -> list[tuple[list[str], Any, Any]]:
    """``(schemes, DriverInfo, class)`` per installed driver class, in scheme order."""
    from messaging.transport import installed_drivers

    by_target: dict[str, tuple[list[str], Any, Any]] = {}
    with mock(app.config.autodoc_mock_imports):
        for info in installed_drivers():
            if info.target in by_target:
                by_target[info.target][0].append(info.scheme)
                continue
            try:
                cls = info.load()
            except Exception as exc:
                raise ExtensionError(f"cannot import the driver of {info.scheme}://: "
                                     f"{type(exc).__name__}: {exc}") from exc
            by_target[info.target] = ([info.scheme], info, cls)
    return list(by_target.values())


class _RstDirective(SphinxDirective):
    def _render(self, lines: list[str]) -> list[nodes.Node]:
        return render(self, lines)


class DriverDirective(_RstDirective):
    """One driver: schemes, class, distribution, client library, capabilities."""

    has_content = False
    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from messaging.driver import Capabilities

        scheme = self.arguments[0]
        found = [d for d in _drivers(self.env.app) if scheme in d[0]]
        if not found:
            raise self.error(f"no installed driver serves {scheme}://")
        schemes, info, cls = found[0]
        meanings = _meanings()
        lines = [".. list-table::", "   :widths: 25 75", "",
                 "   * - URL schemes", "     - " + ", ".join(f"``{s}://``" for s in schemes),
                 "   * - driver class", f"     - ``{info.target}``",
                 "   * - registered by", f"     - the ``{info.distribution}`` distribution "
                                         f"(entry point group ``messaging.drivers``)",
                 "   * - client library",
                 "     - " + (f"`{cls.client_library} <https://pypi.org/project/"
                              f"{cls.client_library}/>`__" if cls.client_library
                              else "none (the standard library only)"),
                 "", ".. rubric:: Declared capabilities (``transport.capabilities``)", "",
                 ".. list-table::", "   :header-rows: 1", "   :widths: 22 13 65", "",
                 "   * - capability", "     - declared", "     - meaning"]
        for field in dataclasses.fields(Capabilities):
            lines += [f"   * - ``{field.name}``",
                      f"     - {_shown(getattr(cls.capabilities, field.name))}",
                      f"     - {meanings[field.name]}"]
        return self._render(lines)


class CapabilitiesDirective(_RstDirective):
    """Every installed driver's capabilities, side by side."""

    has_content = False
    option_spec = {"fields": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        from messaging.driver import Capabilities

        fields = dataclasses.fields(Capabilities)
        if "fields" in self.options:
            wanted = self.options["fields"].split()
            unknown = set(wanted) - {f.name for f in fields}
            if unknown:
                raise self.error(f"no capability {', '.join(sorted(unknown))}")
            fields = tuple(f for name in wanted for f in fields if f.name == name)
        drivers = _drivers(self.env.app)
        lines = [".. list-table::", "   :header-rows: 1", "",
                 "   * - capability"]
        lines += ["     - " + " ".join(f"``{s}``" for s in schemes)
                  for schemes, _, _ in drivers]
        for field in fields:
            lines.append(f"   * - ``{field.name}``")
            lines += [f"     - {_shown(getattr(cls.capabilities, field.name))}"
                      for _, _, cls in drivers]
        return self._render(lines)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("messaging-driver", DriverDirective)
    app.add_directive("messaging-capabilities", CapabilitiesDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
