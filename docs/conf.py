"""Sphinx configuration of the qiboconnection documentation site (``make docs``)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

from sphinx.application import Sphinx  # noqa: E402

from qiboconnection.config import CLIENT_VERSION  # noqa: E402 - after the path set-up

project = "qiboconnection"
author = "Qilimanjaro Quantum Tech"
copyright = "Qilimanjaro Quantum Tech"
release = CLIENT_VERSION
version = ".".join(CLIENT_VERSION.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "argparse_page",
    "qaas_reference",
]

exclude_patterns = ["_build", "WIRE.md", "docstring_coverage.py"]
root_doc = "index"
html_theme = "furo"
html_title = f"qiboconnection {release}"
pygments_style = "sphinx"
# Quotes and ellipses only: "--" stays two hyphens, as the command-line flags in the text need.
smartquotes_action = "qe"
pygments_dark_style = "monokai"

# -- autodoc / napoleon: Google-style docstrings, types taken from the annotations ----------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_class_signature = "separated"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_custom_sections = ["Deprecated"]

# -- intersphinx ---------------------------------------------------------------------------------------
# Links into the documentation of Python, httpx, numpy and qibo need those projects' inventories
# (objects.inv), which are only on their sites: none of these packages ships one, and Python's
# documentation is not installed with Python. A build fetches them only when asked to, with
# QIBOCONNECTION_DOCS_INTERSPHINX=1 (`make docs INTERSPHINX=1`); a build that must work offline (the
# default, and `make test`) leaves the mapping empty, so those names are shown as plain text and no
# request is made. Everything else is the same in both builds, and both treat warnings as errors.
INTERSPHINX_PROJECTS = {
    "python": ("https://docs.python.org/3", None),
    "httpx": ("https://www.python-httpx.org", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "qibo": ("https://qibo.science/qibo/stable", None),
}
intersphinx_mapping = (
    INTERSPHINX_PROJECTS if os.environ.get("QIBOCONNECTION_DOCS_INTERSPHINX", "0") == "1" else {}
)
intersphinx_timeout = 10

# Names imported for annotations only, which autodoc cannot evaluate, written as the class they are.
autodoc_type_aliases = {"API": "qiboconnection.api.API", "Device": "qiboconnection.models.devices.Device"}

_MARKDOWN_CODE = re.compile(r"(?<![`\w])`([^`\n]+)`(?![`\w])")


def _generated_markdown(  # noqa: PLR0917 - the signature of autodoc-process-docstring
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Turn the CommonMark inline code of the generated client's docstrings into reStructuredText's.

    Those docstrings are the specification's descriptions, where a single backtick marks code.
    """
    if name.startswith("qaas_client."):
        lines[:] = [_MARKDOWN_CODE.sub(r"``\1``", line) for line in lines]


def setup(app: Sphinx) -> None:
    """Hook the docstring conversion of the generated client."""
    app.connect("autodoc-process-docstring", _generated_markdown, priority=400)  # before napoleon (500)
