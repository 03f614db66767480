"""A Sphinx directive that renders the option tables, so the reference is never hand-copied.

Usage in a Markdown page::

    ```{messaging-options}
    ```

It lists every group of :func:`messaging.options.all_option_groups` (the
core's and every installed driver's), each option with its type, default
and help text. Given group names (``{messaging-options} oslo_messaging_rabbit``)
it renders only those groups, without section titles (for a driver's page).
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from rst_block import render
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(option: Any) -> str:
    if option.secret:
        return "(secret)"
    if option.default is None:
        return "(none)"
    if option.default == "":
        return '""'
    return f"``{option.default!r}``" if not isinstance(option.default, str) \
        else f"``{option.default}``"


class OptionsDirective(SphinxDirective):
    """Render one table per option group."""

    has_content = False
    optional_arguments = 10

    def run(self) -> list[nodes.Node]:
        from messaging.options import all_option_groups

        groups = all_option_groups()
        wanted = list(self.arguments)
        unknown = [g for g in wanted if g not in groups]
        if unknown:
            raise self.error(f"no option group {', '.join(unknown)}; installed: "
                             f"{', '.join(sorted(groups))}")
        lines: list[str] = []
        for group, options in sorted(groups.items(),
                                     key=lambda kv: (kv[0] != "DEFAULT", kv[0])):
            if wanted and group not in wanted:
                continue
            if not wanted:
                lines += [f"``[{group}]``", "~" * (len(group) + 6), ""]
            elif len(wanted) > 1:
                lines += [f".. rubric:: ``[{group}]``", ""]
            lines += [".. list-table::", "   :header-rows: 1", "   :widths: 25 10 15 50", "",
                      "   * - option", "     - type", "     - default", "     - meaning"]
            for o in options:
                help_text = o.help
                if o.choices:
                    help_text += " One of: " + ", ".join(str(c) for c in o.choices) + "."
                if o.deprecated_names:
                    help_text += " Old name(s): " + ", ".join(o.deprecated_names) + "."
                lines += [f"   * - ``{o.name}``", f"     - {o.type.__name__}",
                          f"     - {_cell(_default(o))}", f"     - {_cell(help_text)}"]
            lines.append("")
        return render(self, lines)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("messaging-options", OptionsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
