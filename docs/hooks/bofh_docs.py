"""mkdocs hooks of the documentation site (``hooks:`` in mkdocs.yml); nothing here is part of pybofh itself.

* A line ``<!-- bofh-cli GROUP -->`` in a page becomes the reference of ``bofh GROUP``, generated at build time
  from the installed ``bofh`` command tree (the typer apps the plugins register); ``<!-- bofh-cli -->`` is the
  root: global options and the core's own commands.
* The repository's ``examples/`` files are published beside the pages, so the README's links to them (pulled in
  by snippets) resolve.
"""

from __future__ import annotations

import html
import inspect
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- bofh-cli(?: (?P<group>[a-z0-9_-]+))? -->$", re.MULTILINE)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|])")


def on_startup(**_: Any) -> None:
    # Discovery loads every plugin for the reference; a docs build has no business writing the user's cache.
    os.environ.setdefault("PYBOFH_NO_PLUGIN_CACHE", "1")


def on_files(files: Files, config: Any, **_: Any) -> Files:
    for path in sorted((ROOT / "examples").glob("*.py")):
        files.append(File(f"examples/{path.name}", src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKER.sub(lambda m: cli_reference(m.group("group")), markdown)


def command_tree(group: str | None = None) -> Iterator[tuple[Any, Any]]:
    """(command, click context) of ``bofh GROUP`` and everything under it, depth first; without a group the root
    and the core's own commands (the plugins' groups are on their pages)."""
    import typer

    from pybofh_core import _click as click
    from pybofh_core.cli import app

    root = typer.main.get_command(app)
    ctx = click.Context(root, info_name="bofh")
    if group is None:
        yield from _walk(root, ctx)
    else:
        command = root.get_command(ctx, group)
        yield from _walk(command, click.Context(command, info_name=group, parent=ctx))


def _subcommands(command: Any, ctx: Any) -> list[str] | None:
    """The visible sub-commands of a group (of the root: the core's own), None for a command."""
    if ctx.parent is None:
        return sorted(command.commands)
    if not hasattr(command, "list_commands"):
        return None
    return [n for n in command.list_commands(ctx) if not command.get_command(ctx, n).hidden]


def _walk(command: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    from pybofh_core import _click as click

    yield command, ctx
    for name in _subcommands(command, ctx) or ():
        sub = command.get_command(ctx, name)
        yield from _walk(sub, click.Context(sub, info_name=name, parent=ctx))


def cli_reference(group: str | None) -> str:
    """Markdown for the commands of ``bofh GROUP`` (or the root's own): one heading per command path, its help,
    its usage line, its arguments and options as ``--help`` describes them."""
    out: list[str] = []
    for command, ctx in command_tree(group):
        out += [f"### `{ctx.command_path}`", "", _paragraphs(command.help or ""), ""]
        if command.epilog:
            out += [f"*{_escape(command.epilog)}*", ""]
        subcommands = _subcommands(command, ctx)
        if subcommands is None or ctx.parent is None:
            out += ["```text", f"{ctx.command_path} {' '.join(command.collect_usage_pieces(ctx))}", "```", ""]
        for param in command.get_params(ctx):
            record = None if getattr(param, "hidden", False) or param.name == "help" else param.get_help_record(ctx)
            if record:
                out.append(f"* `{record[0]}`" + (f": {_escape(record[1])}" if record[1] else ""))
        if subcommands:
            out += ["", "Commands: " + ", ".join(f"`{n}`" for n in subcommands) + "."]
        out.append("")
    return "\n".join(out)


def _paragraphs(text: str) -> str:
    """A command's help as Markdown paragraphs: the docstring's lines rejoined, special characters escaped."""
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(text))
    return "\n\n".join(_escape(" ".join(line.strip() for line in p.splitlines() if line.strip() != "\b"))
                       for p in paragraphs)


def _escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
