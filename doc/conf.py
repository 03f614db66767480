"""Sphinx configuration of the messaging documentation (``tox -e docs``)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath("_ext"))

project = "messaging"
author = "the messaging developers"
copyright = "2026, the messaging developers"
release = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "options_reference",
]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"
html_title = "messaging"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False
suppress_warnings = ["myst.xref_missing"]
