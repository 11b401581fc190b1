"""Sphinx configuration for the mqttclient documentation.

The build is offline: no extension fetches anything (there is no intersphinx mapping), so
``sphinx-build -W`` works on a machine without network access. ``tests/unit/test_docs_build.py``
builds these docs with warnings as errors.
"""

from __future__ import annotations

import os
import sys

# Document the working tree, not whatever copy of mqttclient happens to be installed.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from mqttclient import __version__

project = "mqttclient"
author = "mqttclient developers"
copyright = "mqttclient developers"
version = __version__
release = __version__

extensions = ["sphinx.ext.autodoc"]

root_doc = "index"
exclude_patterns = ["_build"]
language = "en"

# API reference: source order, type hints in the signature, no private members.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Client's chaining setters (mqttclient/_client_settings.py) return a self-type TypeVar: show
# it as the class, as paho documents them.
autodoc_type_aliases = {"_ClientT": "Client"}

html_theme = "alabaster"
html_title = f"mqttclient {release}"
html_static_path: list[str] = []
