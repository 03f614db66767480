"""Render generated reStructuredText inside any page, Markdown (MyST) or reST.

The generating directives write reST (list tables, rubrics, sections). A
directive's ``state.nested_parse`` parses with the *page's* parser, which
for a MyST page reads that text as Markdown and prints it verbatim; so the
text is parsed here by docutils' reST parser into a document of its own,
with the page's settings (Sphinx roles keep working), and its nodes are
handed back for the page.
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import Parser
from docutils.utils import new_document
from sphinx.util.docutils import SphinxDirective


def render(directive: SphinxDirective, lines: list[str]) -> list[nodes.Node]:
    """The nodes of ``lines`` (reST), for ``directive.run`` to return."""
    page = directive.state.document
    source = f"{page['source']}:{directive.name}"
    document = new_document(source, page.settings)
    document.reporter = page.reporter
    Parser().parse("\n".join(lines) + "\n", document)
    for section in document.findall(nodes.section):
        page.note_implicit_target(section, section)
    return list(document.children)
