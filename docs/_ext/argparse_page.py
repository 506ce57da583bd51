"""``.. argparse-commands::``: the subcommands of an argparse parser, rendered from the parser itself.

The CLI reference is generated at build time from ``qiboconnection.cli.build_parser()``, so a command or
flag added, removed or changed in the code changes the page with it; nothing is retyped. Options:

``:parser:``  ``module:function`` returning the top-level parser (required).
``:only:``    space-separated subcommands to render (default: all of them).
``:exclude:`` space-separated subcommands to leave out.

Each subcommand becomes a section ``<prog> <name>`` with its description, its usage line, a table of its
arguments (grouped as argparse groups them, defaults shown) and its epilog. :func:`render_commands` gives
the same reStructuredText without Sphinx, for tests.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

__all__ = ["ArgparseCommands", "load_parser", "render_commands", "setup", "subcommands"]


def load_parser(spec: str) -> argparse.ArgumentParser:
    """The parser that ``module:function`` builds."""
    module_name, _, function = spec.partition(":")
    if not function:
        raise ValueError(f"expected module:function, not {spec!r}")
    parser: argparse.ArgumentParser = getattr(importlib.import_module(module_name), function)()
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` by name, in the order they were added (aliases left out)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                found[choice.dest] = action.choices[choice.dest]
    return found


def _literal(text: str) -> list[str]:
    return ["::", "", *("   " + line if line else "" for line in text.rstrip().splitlines()), ""]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|")


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    formatter = parser._get_formatter()
    return " ".join(formatter._expand_help(action).split())


def _invocation(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    return formatter._format_action_invocation(action)


def _argument_rows(parser: argparse.ArgumentParser, group: Any) -> list[tuple[str, str]]:
    rows = []
    for action in group._group_actions:
        if action.help == argparse.SUPPRESS:
            continue
        rows.append((_invocation(parser, action), _help(parser, action)))
    return rows


def _table(rows: Iterable[tuple[str, str]]) -> list[str]:
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 35 65",
        "",
        "   * - argument",
        "     - meaning",
    ]
    for invocation, meaning in rows:
        lines += [f"   * - ``{invocation}``", f"     - {_escape(meaning) or '..'}"]
    return [*lines, ""]


def _command_lines(prog: str, name: str, parser: argparse.ArgumentParser, underline: str) -> list[str]:
    title = f"{prog} {name}"
    lines = [f".. _cli-{name}:", "", title, underline * len(title), ""]
    if parser.description:
        lines += [_escape(" ".join(parser.description.split())), ""]
    usage = " ".join(parser.format_usage().removeprefix("usage: ").split())
    lines += _literal(usage)
    for group in parser._action_groups:
        rows = _argument_rows(parser, group)
        if not rows:
            continue
        heading = group.title or "arguments"
        lines += [
            f"**{_escape(heading)}**" + (f": {_escape(group.description)}" if group.description else ""),
            "",
        ]
        lines += _table(rows)
    if parser.epilog:
        lines += _literal(parser.epilog)
    return lines


def render_commands(
    parser: argparse.ArgumentParser,
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    underline: str = "-",
) -> str:
    """reStructuredText for the subcommands of ``parser`` (those in ``only``, less ``exclude``)."""
    commands = subcommands(parser)
    names = list(commands) if only is None else list(only)
    unknown = [name for name in [*names, *exclude] if name not in commands]
    if unknown:
        raise ValueError(f"{parser.prog} has no subcommand {', '.join(unknown)}")
    lines: list[str] = []
    for name in names:
        if name not in set(exclude):
            lines += _command_lines(parser.prog, name, commands[name], underline)
    return "\n".join(lines) + "\n"


class ArgparseCommands(SphinxDirective):
    """The directive: renders the parser's subcommands as sections of the current page."""

    has_content = False
    option_spec = {
        "parser": directives.unchanged_required,
        "only": directives.unchanged,
        "exclude": directives.unchanged,
        "underline": directives.single_char_or_unicode,
    }

    def run(self) -> list[nodes.Node]:
        """Build the parser and parse its rendering into the document."""
        spec = self.options.get("parser")
        if not spec:
            raise self.error("argparse-commands needs a :parser: module:function")
        try:
            parser = load_parser(spec)
            text = render_commands(
                parser,
                only=self.options["only"].split() if "only" in self.options else None,
                exclude=self.options.get("exclude", "").split(),
                underline=self.options.get("underline", "-"),
            )
        except (ImportError, AttributeError, ValueError) as error:
            raise self.error(f"argparse-commands: {error}") from error
        for module in list(sys.modules.values()):
            # The parser's module and its siblings (qiboconnection.cli, qiboconnection.cli_client...).
            if getattr(module, "__name__", "").startswith(spec.partition(":")[0]) and module.__file__:
                self.env.note_dependency(module.__file__)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(text.splitlines(), source=f"<{spec}>"), container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directive."""
    app.add_directive("argparse-commands", ArgparseCommands)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
