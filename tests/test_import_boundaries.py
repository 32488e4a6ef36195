"""The core knows no plugin, and a plugin knows another only through a declared dependency: read from the source.

``pybofh_core`` (and the ``pybofh`` facade it ships) imports no plugin package and names no plugin module in its
code (fan-out over hosts is the ``pybofh_run_on_hosts`` hook; ``pybofh.on_host`` is found through the plugin host); a
plugin imports another plugin's package only when its ``pyproject.toml`` depends on that distribution (xen finds
blockdev's ``resize_stack`` through the operation registry). Imports under ``if TYPE_CHECKING:`` are for type
checkers only and do not count.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(p for p in (ROOT / "plugins").glob("pybofh-*") if (p / "pyproject.toml").exists())
PLUGIN_PACKAGES = {d.name.replace("-", "_") for d in PLUGIN_DIRS}
_MODULE_TEXT = re.compile(r"^(pybofh_[a-z]+)(?:[.:]|$)")


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node not inside an ``if TYPE_CHECKING:`` block or a docstring."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden |= {id(n) for n in ast.walk(node)}
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            hidden.add(id(body[0].value))
    return [n for n in ast.walk(tree) if id(n) not in hidden]


def plugin_references(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each run-time import of a plugin package in ``path``, and of each string that names a
    plugin module (``"pybofh_ssh.cli_fanout"``, ``"pybofh_lvm.cli:app"``)."""
    found = []
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := _MODULE_TEXT.match(node.value)):
            names = [m.group(1)]
        found += [(node.lineno, n) for n in names if n.split(".")[0] in PLUGIN_PACKAGES]
    return found


def test_the_core_imports_and_names_no_plugin() -> None:
    core = sorted((ROOT / "pybofh_core").glob("pybofh*/**/*.py"))
    assert len(core) > 20
    bad = [f"{p.relative_to(ROOT)}:{line} {name}" for p in core for line, name in plugin_references(p)]
    assert not bad, "the core refers to plugins (use a hook, the plugin host or the operation registry): " + \
        ", ".join(bad)


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=lambda p: p.name)
def test_a_plugin_imports_another_only_as_a_declared_dependency(plugin: Path) -> None:
    meta = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].replace("-", "_") for d in meta.get("dependencies", [])}
    own = plugin.name.replace("-", "_")
    bad = [f"{p.relative_to(ROOT)}:{line} {name}"
           for p in sorted((plugin / own).glob("**/*.py"))
           for line, name in plugin_references(p)
           if name.split(".")[0] not in (own, *declared)]
    assert not bad, f"{plugin.name} uses plugins it does not depend on: {', '.join(bad)}"


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner sees imports and module strings, and leaves TYPE_CHECKING blocks and docstrings alone."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""Uses ``pybofh_lvm.ops``."""\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n'
                      "    import pybofh_xen\nimport pybofh_lvm.facts\nX = 'pybofh_ssh.cli_fanout'\n"
                      "def f():\n    from pybofh_crypt import ops\n")
    assert plugin_references(sample) == [(5, "pybofh_lvm.facts"), (6, "pybofh_ssh"), (8, "pybofh_crypt")]


def test_serialising_an_undo_imports_no_other_plugins_operations() -> None:
    """Journalling an LVM undo names its operation (``lvm.remove_lv``) by loading lvm's operations only: other
    plugins are discovered (their packages and settings declarations) but none of their ops, facts or parsers."""
    code = (
        "import json, sys\n"
        "from pybofh_core.operations import undo\n"
        "from pybofh_core.session import get_plugins\n"
        "import pybofh_lvm.ops as ops\n"
        "before = set(sys.modules)\n"
        "doc = undo(ops.remove_lv, 'vg0', 'data').to_json(get_plugins().operations)\n"
        "print(json.dumps([doc['op'], doc['replayable'], sorted(set(sys.modules) - before)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    op, replayable, loaded = json.loads(done.stdout)
    assert op == "lvm.remove_lv" and replayable
    others = [m for m in loaded if m.split(".")[0] in PLUGIN_PACKAGES - {"pybofh_lvm"}
              and m.count(".") and not m.endswith(".settings")]
    assert others == [], f"serialising an lvm undo imported {others}"
