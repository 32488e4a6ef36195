"""The core's seams, read from the source: no import cycle among ``pybofh_core``'s modules, counting the imports
inside functions too (a lazy import is still a dependency; only ``if TYPE_CHECKING:`` ones are for type checkers),
and the bottom of the core does not reach up to the session, the plugins or atomic blocks.

The order, bottom to top: leaves (errors, secret, serialize, recording, signals, entrypoints…), settings, the
runner and the checks on it, operations, rollback and the journal, hookspecs and plugins, **the session** (the one
module that wires plugins, settings, journal and lock directories), then atomic blocks, safety and the CLI.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.test_import_boundaries import _runtime_nodes

CORE = Path(__file__).resolve().parents[1] / "pybofh_core" / "pybofh_core"

#: modules that must not depend, even lazily, on the session or anything above it
BELOW_SESSION = ("errors", "secret", "serialize", "recording", "model", "signals", "entrypoints", "render", "layers",
                 "cli_registry", "parsing", "lazy", "settings", "runner", "validate", "identity", "locks",
                 "operations", "rollback", "journal", "status", "hookspecs", "plugins")
ABOVE = {"session", "atomic", "safety", "cli", "testing"}


def core_imports(package: Path, name: str = "pybofh_core") -> dict[str, set[str]]:
    """module -> the modules of the package it imports at run time (anywhere in the module, functions too)."""
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for mod in sorted(modules):
        tree = ast.parse((package / f"{mod}.py").read_text(), f"{mod}.py")
        deps: set[str] = set()
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 or (node.level == 0 and node.module and node.module.split(".")[0] == name):
                    base = (node.module or "") if node.level == 1 else node.module.partition(".")[2]  # type: ignore[union-attr]
                    if base:
                        deps.add(base.split(".")[0])
                    else:  # from . import a, b
                        deps |= {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith(f"{name}.")}
        graph[mod] = (deps & modules) - {mod}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` depends on, directly or not."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_the_core_has_no_import_cycle() -> None:
    graph = core_imports(CORE)
    assert len(graph) > 20 and "session" in graph
    assert cycles(graph) == [], f"modules of pybofh_core import each other in a circle: {cycles(graph)}"


def test_the_bottom_of_the_core_does_not_reach_up() -> None:
    graph = core_imports(CORE)
    assert set(BELOW_SESSION) | ABOVE >= set(graph) - {"_click", "hookspecs"}, \
        f"place new core modules in this test's layers: {sorted(set(graph) - set(BELOW_SESSION) - ABOVE)}"
    bad = {mod: sorted(reaches(graph, mod) & ABOVE) for mod in BELOW_SESSION if reaches(graph, mod) & ABOVE}
    assert bad == {}, f"modules below the session depend on it or on what is above it: {bad}"


def test_the_check_finds_a_lazy_cycle(tmp_path: Path) -> None:
    """The scanner counts imports inside functions and ``from . import x``, and leaves TYPE_CHECKING ones alone."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def f():\n    from . import c\n")
    (pkg / "c.py").write_text("import pkg.a\nfrom typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from . import d\n")
    (pkg / "d.py").write_text("from .c import y\n")
    graph = core_imports(pkg, "pkg")
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"c"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert reaches(graph, "d") == {"a", "b", "c"}


def test_replaying_an_undo_imports_only_its_plugin(tmp_path: Path) -> None:
    """A fresh process that replays a journal holding an lvm undo (as ``bofh journal rollback`` does, here as a dry
    run) imports lvm's operations and no other plugin's ops, facts or parsers."""
    from pybofh_core.journal import Journal
    from pybofh_core.operations import undo
    from pybofh_core.session import get_plugins
    from pybofh_lvm import ops

    writer = Journal(tmp_path).create("replay")
    writer.append({"type": "step", "step": 1, "op": "lvm.create_lv", "args": {"vg": "vg0", "name": "data"},
                   "runner": {"transport": "local"}, "kind": "inverse"})
    writer.append({"type": "done", "step": 1,
                   "undo": undo(ops.remove_lv, "vg0", "data").to_json(get_plugins().operations)})
    writer.close()  # no commit: a block whose process died
    replay = (
        "import json, sys\n"
        "from pybofh_core.journal import Journal\n"
        "from pybofh_core.runner import FakeRunner\n"
        "from pybofh_core.session import get_plugins\n"
        f"journal = Journal({str(tmp_path)!r})\n"
        "(state,) = journal.list()\n"
        "before = set(sys.modules)\n"
        "report = journal.rollback(state.id, get_plugins().operations.get, lambda d: FakeRunner(), dry_run=True)\n"
        "print(json.dumps([state.steps[0].undo['op'], sorted(set(sys.modules) - before)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", replay], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    op, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert op == "lvm.remove_lv"
    assert "pybofh_lvm.ops" in loaded
    others = [m for m in loaded if m.startswith("pybofh_") and not m.startswith(("pybofh_core", "pybofh_lvm"))
              and m.count(".") and not m.endswith(".settings")]
    assert others == [], f"replaying an lvm undo imported {others}"


def test_the_former_names_still_work() -> None:
    """``get_host``/``PluginHost`` were renamed (``host`` means an SSH host elsewhere); the old names stay aliases."""
    import pybofh_core
    from pybofh_core import plugins, session

    assert session.get_host is session.get_plugins and session.set_host is session.set_plugins
    assert session.peek_host is session.peek_plugins and plugins.PluginHost is plugins.Plugins
    assert pybofh_core.get_host() is pybofh_core.get_plugins() is session.get_plugins()


def test_a_copied_model_keeps_its_removals() -> None:
    """The undo plan works on a copy of the plan's model: what a step removed is still removed there."""
    from pybofh_core.model import GONE, PlanModel

    model = PlanModel()
    model.put("k", "a", {"x": 1})
    model.remove("k", "b")
    copied = model.copy()
    assert copied.get("k", "b") is GONE and copied.get("k", "a") == {"x": 1}
    copied.put("k", "a", {"x": 2})
    assert model.get("k", "a") == {"x": 1}
    assert copied.overlay("k", ["b", "c"], lambda v: v if isinstance(v, str) else "a") == ["c", {"x": 2}]
