"""``pybofh_core.lazy``: the one lazy module ``__getattr__``/``__dir__`` (PEP 562) of the core, the facade, every
plugin and the example plugin. A lazy name is imported on first access only, then cached in the module's globals;
``dir()`` lists it; an unknown name is an AttributeError naming the module. No package writes its own."""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from pybofh_core.lazy import lazy_api

ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count()

#: a package with a lazy API: ``heavy`` is costly to import, ``sub`` is a lazy submodule
INIT = '''
from pybofh_core.lazy import lazy_api

PLAIN = 1
_API = {"thing": "heavy", "alias": ("heavy", "thing"), "other": "heavy", "sub": None}
__getattr__, __dir__ = lazy_api(__name__, _API)
'''
HEAVY = "thing = object()\nother = 'other'\n"


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A fresh package built from ``INIT`` (a new name each time, so no test sees another's cache)."""
    import importlib

    name = f"lazy_sample_{next(_counter)}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text(INIT)
    (root / "heavy.py").write_text(HEAVY)
    (root / "sub.py").write_text("VALUE = 'sub'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
        del sys.modules[key]


def _run(code: str, cwd: Path | None = None) -> object:
    """Run ``code`` in a new interpreter (nothing imported yet) and return what it printed as JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          cwd=cwd, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_nothing_is_imported_before_first_access(tmp_path: Path) -> None:
    """A clean interpreter: importing the package (and ``dir()`` of it) imports no API module; the first access
    imports just the module that defines the name."""
    (tmp_path / "lazypkg").mkdir()
    (tmp_path / "lazypkg" / "__init__.py").write_text(INIT)
    (tmp_path / "lazypkg" / "heavy.py").write_text(HEAVY)
    (tmp_path / "lazypkg" / "sub.py").write_text("VALUE = 'sub'\n")
    result = _run('''
        import json, sys
        import lazypkg
        names = dir(lazypkg)
        before = sorted(m for m in sys.modules if m.startswith("lazypkg."))
        thing = lazypkg.thing
        after = sorted(m for m in sys.modules if m.startswith("lazypkg."))
        print(json.dumps({"before": before, "after": after, "listed": "thing" in names and "sub" in names,
                          "same": thing is sys.modules["lazypkg.heavy"].thing}))
    ''', cwd=tmp_path)
    assert result == {"before": [], "after": ["lazypkg.heavy"], "listed": True, "same": True}


def test_the_core_and_a_plugin_stay_cheap_to_import() -> None:
    """``import pybofh_core`` loads only the helper; ``import pybofh_lvm`` none of its API modules until
    ``pybofh_lvm.create_lv`` is asked for (then ``ops``, not ``cli``)."""
    result = _run('''
        import json, sys
        import pybofh_core
        core = sorted(m for m in sys.modules if m.startswith("pybofh_core"))
        import pybofh_lvm
        before = sorted(m for m in sys.modules if m.startswith("pybofh_lvm."))
        pybofh_lvm.create_lv
        after = sorted(m for m in sys.modules if m.startswith("pybofh_lvm."))
        print(json.dumps({"core": core, "before": before, "ops": "pybofh_lvm.ops" in after,
                          "cli": "pybofh_lvm.cli" in after}))
    ''')
    assert result == {"core": ["pybofh_core", "pybofh_core.lazy"], "before": [], "ops": True, "cli": False}


def test_the_value_is_cached_in_the_module_globals(package: ModuleType) -> None:
    heavy_name = f"{package.__name__}.heavy"
    assert "thing" not in vars(package)
    thing = package.thing
    assert vars(package)["thing"] is thing is sys.modules[heavy_name].thing
    vars(sys.modules[heavy_name])["thing"] = "replaced"  # a cached name never reaches __getattr__ again
    assert package.thing is thing
    assert "other" not in vars(package)  # only what was asked for


def test_an_alias_and_a_submodule(package: ModuleType) -> None:
    assert package.alias is package.thing
    assert package.sub is sys.modules[f"{package.__name__}.sub"]
    assert package.sub.VALUE == "sub"


def test_an_unknown_name_is_an_attribute_error_naming_the_module(package: ModuleType) -> None:
    with pytest.raises(AttributeError, match=rf"^module '{package.__name__}' has no attribute 'nope'$"):
        package.nope  # noqa: B018
    assert not hasattr(package, "_private")
    assert getattr(package, "nope", None) is None
    with pytest.raises(AttributeError, match=r"^module 'pybofh_lvm' has no attribute 'nope'$"):
        import pybofh_lvm

        pybofh_lvm.nope  # noqa: B018


def test_dir_lists_globals_and_the_lazy_names_sorted(package: ModuleType) -> None:
    names = dir(package)
    assert names == sorted(names)
    assert {"thing", "alias", "other", "sub", "PLAIN", "__name__"} <= set(names)
    assert not {"thing", "alias", "other"} & set(vars(package))  # listing imports nothing


def _module(name: str) -> ModuleType:
    module = ModuleType(name)
    sys.modules[name] = module
    return module


def test_package_fallback_and_extra_names() -> None:
    """``package`` sets what module names are relative to (``""``: absolute); ``fallback`` answers other public
    names at every access, uncached, and ``extra_names`` adds them to ``dir()``."""
    module = _module(f"lazy_fallback_{next(_counter)}")
    asked: list[str] = []

    def fallback(name: str) -> object:
        asked.append(name)
        if name == "dynamic":
            return len(asked)
        raise AttributeError(f"no {name}")

    try:
        getattr_, dir_ = lazy_api(module.__name__, {"JSONDecoder": "json", "dumps": ("json", "dumps")}, package="",
                                  fallback=fallback, extra_names=lambda: ["dynamic"])
        vars(module).update(__getattr__=getattr_, __dir__=dir_)  # what the assignment in a module body does
        assert module.JSONDecoder is json.JSONDecoder and module.dumps is json.dumps
        assert (module.dynamic, module.dynamic) == (1, 2)  # asked each time: not cached
        assert "dynamic" not in vars(module) and "dynamic" in dir(module) and "JSONDecoder" in dir(module)
        with pytest.raises(AttributeError, match="no missing"):
            module.missing  # noqa: B018
        with pytest.raises(AttributeError, match=rf"module '{module.__name__}' has no attribute '_hidden'"):
            module._hidden  # noqa: B018
        assert asked == ["dynamic", "dynamic", "missing"]  # a private name never reaches the fallback

        relative = _module(f"{module.__name__}_sub")
        getattr_, _ = lazy_api(relative.__name__, {"decoder": None, "scanstring": "decoder"}, package="json")
        assert getattr_("decoder") is sys.modules["json.decoder"]
        assert getattr_("scanstring") is sys.modules["json.decoder"].scanstring
    finally:
        sys.modules.pop(module.__name__, None)
        sys.modules.pop(f"{module.__name__}_sub", None)


def test_a_module_not_being_imported_is_refused() -> None:
    with pytest.raises(ValueError, match="pass __name__"):
        lazy_api("no_such_module_anywhere", {})


def test_the_special_cases_of_the_packages() -> None:
    """What the hand-written ``__getattr__`` functions did besides the table lookup still holds."""
    import pybofh_blockdev.layers
    import pybofh_blockdev.ops
    import pybofh_core
    import pybofh_core.hookspecs
    import pybofh_crypt
    import pybofh_crypt.ops
    import pybofh_lvm
    import pybofh_lvm.ops
    import pybofh_xen
    import pybofh_xen.ops

    assert pybofh_core.hookimpl is pybofh_core.hookspecs.hookimpl
    assert pybofh_core.__all__[0] == "hookimpl"
    assert pybofh_blockdev.layers.resize_stack is pybofh_blockdev.ops.resize_stack  # moved, still found
    assert "resize_stack" in dir(pybofh_blockdev.layers)
    assert pybofh_lvm.createLV is pybofh_lvm.ops.create_lv  # the seed's names
    assert pybofh_xen.allDomus is not None and pybofh_xen.startDomu is pybofh_xen.ops.start_domu
    assert pybofh_crypt.luks_format is pybofh_crypt.ops.format
    assert pybofh_crypt.keys is sys.modules["pybofh_crypt.keys"]  # a submodule as an API name


def test_the_facade_caches_core_names_only() -> None:
    """``pybofh.Atomic`` is cached; ``pybofh.settings``, a plugin and a plugin's re-export go through the plugin
    host every time; a private name never reaches it; a missing plugin is an AttributeError."""
    import pybofh
    import pybofh_core.atomic

    assert pybofh.Atomic is pybofh_core.atomic.Atomic and "Atomic" in vars(pybofh)
    assert pybofh.settings is not None and "settings" not in vars(pybofh)
    assert pybofh.lvm.__name__ == "pybofh_lvm" and "lvm" not in vars(pybofh)
    assert {"lvm", "blockdev", "settings", "on_host", "Atomic"} <= set(dir(pybofh))
    with pytest.raises(AttributeError, match=r"^module 'pybofh' has no attribute '_nope'$"):
        pybofh._nope  # noqa: B018
    with pytest.raises(AttributeError):
        pybofh.no_such_plugin_here  # noqa: B018


# --- no second copy ----------------------------------------------------------------------------------------------


def _package_sources() -> list[Path]:
    """Every module of the core, the facade, the plugins and the example plugin (their tests left out)."""
    globs = ["pybofh_core/pybofh*/**/*.py", "plugins/*/pybofh_*/**/*.py", "examples/plugins/*/pybofh_*/**/*.py"]
    return sorted(p for g in globs for p in ROOT.glob(g))


def _module_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements run at import (inside ``if``/``try`` too), not those of functions or classes."""
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        stmt = todo.pop()
        yield stmt
        if isinstance(stmt, ast.If | ast.Try | ast.With):
            todo += [*stmt.body, *getattr(stmt, "orelse", []), *getattr(stmt, "finalbody", []),
                     *(s for h in getattr(stmt, "handlers", []) for s in h.body)]


def _bound_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for e in target.elts for n in _bound_names(e)]
    return []


def test_no_package_writes_its_own_module_getattr() -> None:
    """A module's ``__getattr__``/``__dir__`` come from ``lazy_api()`` only (``pybofh_core/lazy.py`` is the one
    place that defines them), so the lazy re-export behaves the same everywhere."""
    sources = _package_sources()
    assert len(sources) > 50
    bad: list[str] = []
    users = 0
    for path in sources:
        if path == ROOT / "pybofh_core" / "pybofh_core" / "lazy.py":
            continue
        for stmt in _module_level(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{stmt.lineno}"
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name in ("__getattr__", "__dir__"):
                bad.append(f"{where} def {stmt.name}")
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = {n for t in targets for n in _bound_names(t)}
                if not names & {"__getattr__", "__dir__"}:
                    continue
                call = stmt.value
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "lazy_api":
                    users += 1
                else:
                    bad.append(f"{where} {', '.join(sorted(names))} = {ast.unparse(call) if call else ''}")
            elif isinstance(stmt, ast.Import | ast.ImportFrom) and any(
                    (a.asname or a.name) in ("__getattr__", "__dir__") for a in stmt.names):
                bad.append(f"{where} imports {ast.unparse(stmt)}")
    assert not bad, "write `__getattr__, __dir__ = lazy_api(__name__, _API)` (pybofh_core.lazy): " + "; ".join(bad)
    assert users >= 11  # the core, the facade, seven plugins, blockdev's layers and the example
