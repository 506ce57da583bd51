"""Docstring coverage of the client's public API: interrogate, configured by ``[tool.interrogate]``.

interrogate 1.7 treats a function nested in an ``async def`` (or an ``async def`` nested in a function) as
a top-level name, so the closures inside the coroutines of ``qiboconnection/_async`` would count as public
API. Here a function (plain or async) defined inside another function is nested, whatever its kind; the
rest is interrogate as it is. Usage: ``python docs/docstring_coverage.py [interrogate options] PATHS``.
"""

from __future__ import annotations

import sys
from typing import Any

from interrogate import cli, visit

_FUNCTIONS = ("FunctionDef", "AsyncFunctionDef")


def _is_nested_func(self: Any, parent: Any, node_type: str) -> bool:
    """Whether a node of ``node_type`` under ``parent`` is a function defined inside a function."""
    return parent is not None and parent.node_type in _FUNCTIONS and node_type in _FUNCTIONS


visit.CoverageVisitor._is_nested_func = _is_nested_func

if __name__ == "__main__":
    sys.exit(cli.main())
