"""The documentation site (mkdocs.yml, docs/): it builds with ``mkdocs build --strict`` (no warning, no broken link
or anchor), every plugin has a page whose CLI reference lists every command of its typer app, the docstrings it
renders hold no reStructuredText-only markup, and the Python in its pages calls functions that exist, with
arguments their signatures accept."""

from __future__ import annotations

import ast
import html
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: the entry-point names of the plugins in this tree
PLUGINS = sorted(
    name
    for pyproject in (ROOT / "plugins").glob("*/pyproject.toml")
    for name in tomllib.loads(pyproject.read_text())["project"].get("entry-points", {}).get("pybofh.plugins", {})
)
#: a Sphinx role (``:class:`X```), a directive (``.. note::``) or a literal-block marker (a line ending in ``::``)
RST = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|ref|term|doc):`|^\s*\.\. [a-z-]+::|\S::\s*$",
                 re.MULTILINE)
#: the one directive left in docstrings: the hookspecs keep it (tests/test_hooks.py), docs/hooks/griffe_rst.py
#: renders it
VERSIONADDED = re.compile(r"^\s*\.\. versionadded:: \S+$", re.MULTILINE)


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _rendered_modules() -> list[str]:
    """Every module a page renders with a mkdocstrings ``::: module`` block."""
    return sorted({m.group(1) for page in _pages() for m in re.finditer(r"^::: ([\w.]+)$", page.read_text(), re.M)})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built with the strict settings of mkdocs.yml, as CI and ``nox -s docs`` build it."""
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI"):
            pytest.fail("mkdocs is not installed: scripts/setup installs requirements-docs.txt into .venv")
        pytest.skip("mkdocs is not installed here (requirements-docs.txt; nox -s docs builds the site)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYBOFH_NO_PLUGIN_CACHE": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def _text(page: Path) -> str:
    """The visible text of a built page."""
    body = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def _headings(page: Path) -> set[str]:
    """The text of the page's third-level headings (one per command in a CLI reference), permalinks left out."""
    found = re.finditer(r"<h3 id=\"[^\"]*\">(.*?)</h3>", page.read_text(), re.S)
    return {html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<a class=\"headerlink\".*?</a>", "", m.group(1)))).strip()
            for m in found}


def test_the_site_builds_strictly_and_every_page_is_in_it(site: Path) -> None:
    for page in _pages():
        rel = page.relative_to(DOCS).with_suffix("")
        built = site / ("index.html" if rel.name == "index" else rel / "index.html")
        assert built.is_file(), f"{page.relative_to(ROOT)} was not built"
        assert "--8<--" not in _text(built), f"{page.relative_to(ROOT)}: a snippet include was not resolved"


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_plugin_has_a_page_with_its_cli_and_api_reference(plugin: str) -> None:
    page = DOCS / "plugins" / f"{plugin}.md"
    assert page.is_file(), f"plugin {plugin} has no page docs/plugins/{plugin}.md"
    source = page.read_text()
    assert f"<!-- bofh-cli {plugin} -->" in source, f"{page.name}: no CLI reference"
    assert re.search(rf"^::: pybofh_{plugin}\.", source, re.M), f"{page.name}: no API reference"
    nav = (ROOT / "mkdocs.yml").read_text()
    assert f"plugins/{plugin}.md" in nav


def _commands(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    """(``bofh …`` path, command) of a click command and of every visible command under it, groups included."""
    if not command.hidden:
        yield " ".join(["bofh", *path]), command
        for name, sub in getattr(command, "commands", {}).items():
            yield from _commands(sub, [*path, name])


@pytest.mark.parametrize("plugin", PLUGINS)
def test_cli_reference_lists_every_command_and_option_of_the_plugins_app(site: Path, plugin: str) -> None:
    """Compared with the typer app the plugin registers, read here on its own (not through the site's hook), as
    ``bofh`` shows it (the root's help style applied: no completion options on sub-apps)."""
    import typer

    from pybofh_core.cli import _plain_help
    from pybofh_core.session import get_plugins

    command = typer.main.get_command(get_plugins().cli.entries[plugin].load())
    _plain_help(command)
    commands = list(_commands(command, [plugin]))
    page = site / "plugins" / plugin / "index.html"
    assert {h for h in _headings(page) if h.startswith("bofh ")} == {path for path, _ in commands}
    text = _text(page)
    for path, command in commands:
        for param in command.params:
            if param.param_type_name == "option" and not param.hidden:
                assert param.opts[0] in text, f"{path}: option {param.opts[0]} is not in the reference"


def test_core_cli_reference_lists_the_core_commands(site: Path) -> None:
    import typer

    from pybofh_core.cli import app

    root = typer.main.get_command(app)
    expected = {"bofh", *(path for name, command in root.commands.items() for path, _ in _commands(command, [name]))}
    page = site / "reference" / "cli" / "index.html"
    assert {h for h in _headings(page) if h.split(" ")[0] == "bofh"} == expected
    assert all(param.opts[0] in _text(page) for param in root.params)


@pytest.mark.parametrize("module", _rendered_modules())
def test_rendered_docstrings_hold_no_restructuredtext_markup(module: str) -> None:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    tree = ast.parse(Path(spec.origin).read_text())
    found = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        for i, stmt in enumerate(body if isinstance(body, list) else ()):
            docstring = (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                         and isinstance(stmt.value.value, str)
                         and (i == 0 or isinstance(body[i - 1], ast.Assign | ast.AnnAssign)))
            if not docstring:
                continue
            text = stmt.value.value
            if module == "pybofh_core.hookspecs":
                text = VERSIONADDED.sub("", text)
            found += [f"line {stmt.lineno}: {m.group(0).strip()!r}" for m in RST.finditer(text)]
    assert found == [], f"{module}: reStructuredText in docstrings (write Markdown):\n" + "\n".join(found)


def test_the_built_reference_shows_no_restructuredtext(site: Path) -> None:
    """What the reader sees: no role or directive survived rendering (``.. versionadded::`` included)."""
    for page in sorted((site / "plugins").rglob("index.html")) + sorted((site / "reference").rglob("index.html")):
        leftovers = re.findall(r"\S*:(?:class|func|meth|mod|data|exc|attr):\S*|\.\. \w+::", _text(page))
        assert leftovers == [], f"{page.relative_to(site)}: {leftovers[:5]}"


def _python_blocks() -> list[tuple[str, str]]:
    """(page#N, code) of every fenced Python block of the pages (the README's are tested where they run)."""
    return [(f"{page.relative_to(DOCS)}#{i + 1}", m.group(1)) for page in _pages()
            for i, m in enumerate(re.finditer(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M))]


def _resolve(expr: ast.expr, names: dict[str, Any]) -> Any:
    """The object ``expr`` (a name or ``a.b.c``) stands for, or None: ``atomic.D.OP`` is operation ``D.OP``."""
    from pybofh_core.session import get_plugins

    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.reverse()
    if expr.id == "atomic" and len(parts) == 2:
        return get_plugins().operations.get(".".join(parts))
    if expr.id not in names:
        return None
    obj = names[expr.id]
    for part in parts:
        obj = getattr(obj, part)  # a name the API does not have fails the test
    return obj


@pytest.mark.parametrize(("where", "code"), _python_blocks(), ids=[where for where, _ in _python_blocks()])
def test_python_in_the_pages_calls_what_exists_with_arguments_it_accepts(where: str, code: str) -> None:
    """Each block compiles; every call of something it imported from pybofh (or of ``atomic.DOMAIN.OP``) names an
    existing function or class and binds to its signature."""
    tree = ast.parse(code, filename=where)
    names: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("pybofh"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                names[alias.asname or alias.name] = getattr(module, alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            continue
        target = _resolve(node.func, names)
        if target is None or not callable(target):
            continue
        try:
            inspect.signature(target).bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
        except TypeError as exc:
            pytest.fail(f"{where}, line {node.lineno}: {ast.unparse(node)}: {exc}")


def test_docs_requirements_are_pinned() -> None:
    pins = {Requirement(line).name for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements-docs.txt").read_text().splitlines()]
    missing = [r for r in (Requirement(line) for line in lines if line) if canonicalize_name(r.name) not in pins]
    assert missing == [], f"requirements-docs.txt: not in constraints.txt: {missing}; run nox -s lock"
