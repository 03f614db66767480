"""Sphinx configuration of the messaging documentation (``tox -e docs``)."""

from __future__ import annotations

import importlib.util
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
    "drivers_reference",
    "api_coverage",
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
# A driver whose client library is not installed here (python-qpid-proton is
# built from source) is still documented: its imports are mocked, for the docs
# build only. With the library installed (tox -e docs) the real one is used.
autodoc_mock_imports = [m for m in ("proton",) if importlib.util.find_spec(m) is None]
# Every name these modules export must be in the API reference (doc/_ext/api_coverage.py).
api_coverage_modules = ["messaging", "messaging.rpc", "messaging.notify", "messaging.driver",
                        "messaging.testing"]
