"""Rules on what the package's modules import and touch, proved by walking their syntax trees.

1. No client module (everything outside ``qiboconnection/server/``) imports ``socket``, ``ssl`` or
   ``select``, in any form; only the ``serve`` command, which binds its listening socket, may.
2. Nothing under ``qiboconnection/`` names a private attribute of ``qaas_client``, connexion or
   starlette: no private name or module imported from them, no ``name._private`` on a name bound to
   something they provide, no ``super()._private`` or override of a private method of a class they
   provide, and no use of the generated modules' private functions (``_get_kwargs``...) at all.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qiboconnection"

NETWORK_MODULES = frozenset({"socket", "ssl", "select"})
GUARDED_PACKAGES = frozenset({"qaas_client", "connexion", "starlette"})
GENERATED_PRIVATE_FUNCTIONS = frozenset({"_get_kwargs", "_parse_response", "_build_response"})
# The serve command binds the server's listening socket itself, in this function.
SOCKET_BINDERS = {"qiboconnection/cli.py": frozenset({"_serve"})}

NETWORK = "network modules"
PRIVATE = "private names"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    name: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name} ({self.why})"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _top(dotted: str) -> str:
    return dotted.split(".", 1)[0]


def _imported_by_string(node: ast.Call) -> str | None:
    """The module named by ``__import__("x")`` or ``importlib.import_module("x")``, if constant."""
    func = node.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if called not in {"__import__", "import_module"} or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


# -- rule 1: network modules ---------------------------------------------------------------------------


class _NetworkImports(ast.NodeVisitor):
    def __init__(self, path: str, allowed_in: frozenset[str]) -> None:
        self.path = path
        self.allowed_in = allowed_in
        self.functions: list[str] = []
        self.findings: list[Finding] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _check(self, line: int, module: str) -> None:
        if _top(module) in NETWORK_MODULES and not self.allowed_in.intersection(self.functions):
            self.findings.append(Finding(self.path, line, module, "a client module imports it"))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check(node.lineno, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self._check(node.lineno, node.module)

    def visit_Call(self, node: ast.Call) -> None:
        module = _imported_by_string(node)
        if module is not None:
            self._check(node.lineno, module)
        self.generic_visit(node)


def network_imports(source: str, path: str) -> list[Finding]:
    """Where the module at ``path`` imports socket, ssl or select where it may not."""
    visitor = _NetworkImports(path, SOCKET_BINDERS.get(path, frozenset()))
    visitor.visit(ast.parse(source, filename=path))
    return visitor.findings


# -- rule 2: private names of qaas_client, connexion and starlette ------------------------------------


def _root_name(node: ast.expr) -> str | None:
    """The name an expression starts from: ``a`` in ``a.b(c)[d].e``."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Await):
            node = node.value
        else:
            return None


def _is_super_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _origins(tree: ast.Module) -> dict[str, tuple[str, str | None]]:
    """Names bound by imports from the guarded packages: name -> (module, attribute or None)."""
    bound: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _top(alias.name) in GUARDED_PACKAGES:
                    if alias.asname:
                        bound[alias.asname] = (alias.name, None)
                    else:
                        bound[_top(alias.name)] = (_top(alias.name), None)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and _top(node.module) in GUARDED_PACKAGES
        ):
            for alias in node.names:
                bound[alias.asname or alias.name] = (node.module, alias.name)
    return bound


def _derived(tree: ast.Module, bound: set[str]) -> set[str]:
    """``bound`` with every name assigned from an expression that starts from one of them."""
    names = set(bound)
    assignments: list[tuple[list[ast.expr], ast.expr]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            assignments.append((node.targets, node.value))
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            assignments.append(([node.target], node.value))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            assignments.append(([node.optional_vars], node.context_expr))
    grew = True
    while grew:
        grew = False
        for targets, value in assignments:
            if _root_name(value) not in names:
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in names:
                    names.add(target.id)
                    grew = True
    return names


def _resolve(node: ast.expr, origins: dict[str, tuple[str, str | None]]) -> object | None:
    """The object a dotted expression starting from an imported name stands for, found by importing it."""
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, origins)
        return None if owner is None else getattr(owner, node.attr, None)
    if isinstance(node, ast.Name) and node.id in origins:
        module, attribute = origins[node.id]
        imported = importlib.import_module(module)
        return imported if attribute is None else getattr(imported, attribute, None)
    return None


@dataclass
class _GuardedClass:
    """A class deriving from a class of a guarded package: its bases and the private names it defines."""

    bases: list[type]
    own: set[str]


def _own_names(node: ast.ClassDef) -> set[str]:
    names: set[str] = set()
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(item.name)
        elif isinstance(item, ast.Assign | ast.AnnAssign):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    for inner in ast.walk(node):
        if isinstance(inner, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = inner.targets if isinstance(inner, ast.Assign) else [inner.target]
            names.update(
                target.attr
                for target in targets
                if isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in {"self", "cls"}
            )
    return names


def _inherited(node: ast.Attribute, current: _GuardedClass) -> bool:
    """Whether ``node`` is ``self.name`` (or ``cls.name``) for a name the class does not define itself."""
    return (
        isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"} and node.attr not in current.own
    )


class _PrivateNames(ast.NodeVisitor):
    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.origins = _origins(tree)
        self.guarded = _derived(tree, set(self.origins))
        self.classes: list[_GuardedClass | None] = []
        self.findings: list[Finding] = []

    def _add(self, line: int, name: str, why: str) -> None:
        self.findings.append(Finding(self.path, line, name, why))

    def _check_module(self, line: int, module: str) -> None:
        parts = module.split(".")
        if parts[0] in GUARDED_PACKAGES and any(_is_private(part) for part in parts):
            self._add(line, module, "a private module of a guarded package")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node.lineno, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level != 0 or not node.module:
            return
        self._check_module(node.lineno, node.module)
        for alias in node.names:
            if _is_private(alias.name) and (
                _top(node.module) in GUARDED_PACKAGES or alias.name in GENERATED_PRIVATE_FUNCTIONS
            ):
                self._add(node.lineno, f"{node.module}.{alias.name}", "a private name imported")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        guarded = [base for base in node.bases if _root_name(base) in self.guarded]
        current = None
        if guarded:
            resolved = [_resolve(base, self.origins) for base in guarded]
            current = _GuardedClass([base for base in resolved if isinstance(base, type)], _own_names(node))
            for item in node.body:
                if (
                    isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and _is_private(item.name)
                    and any(hasattr(base, item.name) for base in current.bases)
                ):
                    self._add(item.lineno, f"{node.name}.{item.name}", "overrides a private method")
        self.classes.append(current)
        self.generic_visit(node)
        self.classes.pop()

    def visit_Attribute(self, node: ast.Attribute) -> None:
        current = self.classes[-1] if self.classes else None
        if node.attr in GENERATED_PRIVATE_FUNCTIONS:
            self._add(node.lineno, ast.unparse(node), "a private function of the generated client")
        elif _is_private(node.attr):
            if _root_name(node.value) in self.guarded:
                self._add(node.lineno, ast.unparse(node), "a private attribute of a guarded package")
            elif current is not None and (_is_super_call(node.value) or _inherited(node, current)):
                self._add(node.lineno, ast.unparse(node), "a private attribute of a guarded base class")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        module = _imported_by_string(node)
        if module is not None:
            self._check_module(node.lineno, module)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
            if name in GENERATED_PRIVATE_FUNCTIONS or (
                _is_private(name) and _root_name(node.args[0]) in self.guarded
            ):
                self._add(node.lineno, f"{ast.unparse(node.args[0])}.{name}", "a private attribute by name")
        self.generic_visit(node)


def private_names(source: str, path: str) -> list[Finding]:
    """Where the module at ``path`` names a private attribute of qaas_client, connexion or starlette."""
    tree = ast.parse(source, filename=path)
    visitor = _PrivateNames(path, tree)
    visitor.visit(tree)
    return visitor.findings


# -- the package ---------------------------------------------------------------------------------------


def _modules() -> Iterator[str]:
    for file in sorted(PACKAGE.rglob("*.py")):
        yield file.relative_to(ROOT).as_posix()


MODULES = list(_modules())
CLIENT_MODULES = [path for path in MODULES if not path.startswith("qiboconnection/server/")]
RULES = {NETWORK: network_imports, PRIVATE: private_names}


def _findings(rule: str, path: str) -> list[Finding]:
    return RULES[rule]((ROOT / path).read_text(encoding="utf-8"), path)


def _assert_rule(rule: str, path: str, findings: list[Finding]) -> None:
    assert not findings, f"{path} breaks the rule on {rule}:\n" + "\n".join(
        str(finding) for finding in findings
    )


def test_the_walk_sees_the_client_and_the_server():
    assert "qiboconnection/cli.py" in CLIENT_MODULES
    assert "qiboconnection/errors.py" in CLIENT_MODULES
    assert "qiboconnection/server/app.py" in MODULES
    assert "qiboconnection/server/app.py" not in CLIENT_MODULES


@pytest.mark.parametrize("path", CLIENT_MODULES)
def test_client_module_imports_no_network_module(path):
    _assert_rule(NETWORK, path, _findings(NETWORK, path))


@pytest.mark.parametrize("path", MODULES)
def test_module_names_no_private_attribute_of_generated_code_or_frameworks(path):
    _assert_rule(PRIVATE, path, _findings(PRIVATE, path))


# -- the checkers on small sources ----------------------------------------------------------------------

NETWORK_VIOLATIONS = [
    ("import socket\n", "socket"),
    ("import ssl as tls\n", "ssl"),
    ("import os, select\n", "select"),
    ("from socket import create_connection\n", "socket"),
    ("from ssl import SSLContext as Context\n", "ssl"),
    ("def f():\n    import select\n    return select\n", "select"),
    ("async def f():\n    from socket import AF_INET\n", "socket"),
    ("class C:\n    def m(self):\n        import ssl\n", "ssl"),
    ("import importlib\nmodule = importlib.import_module('socket')\n", "socket"),
    ("poller = __import__('select')\n", "select"),
]

NETWORK_CLEAN = [
    "import os\nimport selectors\nimport sslkeys\n",
    "from qiboconnection.errors import ConnectionException\n",
    "from . import socket\n",
    "import httpx\nsocket = None\n",
]


@pytest.mark.parametrize(("source", "module"), NETWORK_VIOLATIONS)
def test_network_checker_flags(source, module):
    findings = network_imports(source, "qiboconnection/example.py")
    assert [finding.name for finding in findings] == [module]
    line = next(n for n, text in enumerate(source.splitlines(), 1) if module in text)
    assert str(findings[0]).startswith(f"qiboconnection/example.py:{line}: {module}")


@pytest.mark.parametrize("source", NETWORK_CLEAN)
def test_network_checker_passes(source):
    assert network_imports(source, "qiboconnection/example.py") == []


def test_network_checker_lets_only_the_serve_command_bind():
    inside = "def _serve(args):\n    import socket\n    return socket\n"
    elsewhere = "import socket\n\ndef _serve(args):\n    return socket\n"
    assert network_imports(inside, "qiboconnection/cli.py") == []
    assert [str(f) for f in network_imports(elsewhere, "qiboconnection/cli.py")] == [
        "qiboconnection/cli.py:1: socket (a client module imports it)"
    ]
    assert len(network_imports(inside, "qiboconnection/api.py")) == 1


PRIVATE_VIOLATIONS = [
    ("from connexion.context import _scope\n", 1, "connexion.context._scope"),
    ("from starlette import _utils\n", 1, "starlette._utils"),
    ("import connexion._internal\n", 1, "connexion._internal"),
    ("from starlette._utils import is_async_callable\n", 1, "starlette._utils"),
    ("import connexion\nconnexion.context._scope.get()\n", 2, "connexion.context._scope"),
    ("from connexion import AsyncApp\napp = AsyncApp('x')\napp._middleware_app\n", 3, "app._middleware_app"),
    (
        "from connexion import AsyncApp\nwith AsyncApp('x') as app:\n    app._middleware_app = 1\n",
        3,
        "app._middleware_app",
    ),
    (
        "import qaas_client.api.jobs as jobs\njobs.get_job._get_kwargs(job_id=1)\n",
        2,
        "jobs.get_job._get_kwargs",
    ),
    (
        "from qaas_client.api.jobs import get_job\nkw = get_job._get_kwargs(job_id=1)\n",
        2,
        "get_job._get_kwargs",
    ),
    (
        "def f(module):\n    return module._parse_response(client=None, response=None)\n",
        2,
        "module._parse_response",
    ),
    ("x = anything._build_response\n", 1, "anything._build_response"),
    ("from qaas_client.api.jobs.get_job import _get_kwargs\n", 1, "qaas_client.api.jobs.get_job._get_kwargs"),
    ("from qaas_client import Client\nc = Client('u')\ngetattr(c, '_client')\n", 3, "c._client"),
    ("import importlib\nimportlib.import_module('starlette._utils')\n", 2, "starlette._utils"),
    (
        "from connexion.validators import JSONRequestBodyValidator\n"
        "class V(JSONRequestBodyValidator):\n"
        "    async def parse(self, stream, scope):\n"
        "        return await super()._parse(stream, scope)\n",
        4,
        "super()._parse",
    ),
    (
        "from connexion.security import BearerSecurityHandler\n"
        "class Bearer(BearerSecurityHandler):\n"
        "    def _resolve_func(self, scheme):\n"
        "        return None\n",
        3,
        "Bearer._resolve_func",
    ),
    (
        "from connexion.apps.asynchronous import AsyncOperation\n"
        "class Op(AsyncOperation):\n"
        "    def run(self):\n"
        "        return self._fn\n",
        4,
        "self._fn",
    ),
    (
        "import connexion.security\n"
        "class Bearer(connexion.security.BearerSecurityHandler):\n"
        "    def _resolve_func(self, scheme):\n"
        "        return None\n",
        3,
        "Bearer._resolve_func",
    ),
]

PRIVATE_CLEAN = [
    "from qaas_client.api.jobs import get_job\nreply = get_job.sync_detailed(client=None, job_id=1)\n",
    "from qaas_client.models.job_cancel import JobCancel\nJobCancel().to_dict()\n",
    "from connexion import AsyncApp\napp = AsyncApp('x')\napp.add_api({})\napp.__class__\n",
    "class Mine:\n    def _helper(self):\n        return self._state\n",
    "import httpx\nhttpx.Client()._transport\n",
    "from ._local import _thing\n",
    "from connexion.security import BearerSecurityHandler\n"
    "class Bearer(BearerSecurityHandler):\n"
    "    def _my_own_helper(self):\n"
    "        return super().get_fn\n",
    "from connexion.decorators import StarletteDecorator\n"
    "class D(StarletteDecorator):\n"
    "    def __init__(self):\n"
    "        self._cache = {}\n"
    "    def _lookup(self, key):\n"
    "        return self._cache.get(key), self._lookup\n",
]


@pytest.mark.parametrize(("source", "line", "name"), PRIVATE_VIOLATIONS)
def test_private_name_checker_flags(source, line, name):
    findings = private_names(source, "qiboconnection/example.py")
    assert [(finding.line, finding.name) for finding in findings] == [(line, name)]
    assert str(findings[0]).startswith(f"qiboconnection/example.py:{line}: {name} (")


@pytest.mark.parametrize("source", PRIVATE_CLEAN)
def test_private_name_checker_passes(source):
    assert private_names(source, "qiboconnection/example.py") == []


def test_a_finding_fails_the_rule_with_file_line_and_name():
    path = "qiboconnection/example.py"
    findings = private_names("import os\nfrom connexion.context import _operation\n", path)
    with pytest.raises(AssertionError, match=r"qiboconnection/example\.py:2: connexion\.context\._operation"):
        _assert_rule(PRIVATE, path, findings)
    _assert_rule(PRIVATE, path, private_names("import os\n", path))
