"""``.. qaas-operations::`` and ``.. qaas-models::``: the generated client's contents, read at build time.

The operations table comes from ``openapi.yaml`` (method, path, summary) and names the generated module of
each operation, after checking that it exists; the models are documented by autodoc from
``qaas_client.models``. Regenerating the client from a changed specification changes the page with it.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

__all__ = ["QaasModels", "QaasOperations", "operations", "setup"]

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def operations(spec: Path = SPEC) -> list[dict[str, str]]:
    """Every operation of the specification: tag, generated module, method, path and summary."""
    document = yaml.safe_load(spec.read_text())
    found = []
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = operation["tags"][0]
            found.append(
                {
                    "module": f"qaas_client.api.{tag}.{_snake(operation['operationId'])}",
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                }
            )
    return found


class _Generated(SphinxDirective):
    has_content = False

    def lines(self) -> list[str]:
        """The reStructuredText to parse into the page."""
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        """Parse :meth:`lines` into the document."""
        self.env.note_dependency(str(SPEC))
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(self.lines(), source="<qaas_client>"), container)
        return list(container.children)


class QaasOperations(_Generated):
    """A table of the operations, each with its generated module."""

    def lines(self) -> list[str]:
        """One row per operation; an operation without its generated module is an error."""
        rows = [".. list-table::", "   :header-rows: 1", "   :widths: 40 15 45", ""]
        rows += ["   * - module", "     - request", "     - what it does"]
        for operation in operations():
            try:
                importlib.import_module(operation["module"])
            except ImportError as error:
                raise self.error(f"no generated module for {operation['module']}: {error}") from error
            rows += [
                f"   * - ``{operation['module']}``",
                f"     - ``{operation['method']} {operation['path']}``",
                f"     - {operation['summary']}",
            ]
        return rows


class QaasModels(_Generated):
    """Every model of ``qaas_client.models``, documented by autodoc."""

    def lines(self) -> list[str]:
        """An ``autoclass`` per model, in the order of ``qaas_client.models.__all__``."""
        models = importlib.import_module("qaas_client.models")
        out: list[str] = []
        for name in models.__all__:
            out += [f".. autoclass:: qaas_client.models.{name}", "   :members:", "   :undoc-members:", ""]
        return out


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives."""
    app.add_directive("qaas-operations", QaasOperations)
    app.add_directive("qaas-models", QaasModels)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
