"""Same rooms in every plugin: each distribution under ``plugins/`` lays out its package the same way.

``parsers.py`` (pure: text in, typed values out, no runner), ``facts.py`` (read-only queries through the runner),
``ops.py`` (the ``@operation``s), ``checks.py`` (input checks), ``types.py`` (results), ``errors.py`` (one root error
per plugin that every other error of the plugin derives from), ``settings.py`` / ``layers.py`` where the plugin has
them, ``cli.py``; ``README.md`` and ``tests/conftest.py`` beside the package. A room a plugin cannot have, an old
module name kept for existing imports, a non-root exception or a long module is listed below with its reason: the
lists must stay true (a listed shim that is gone, or a listed long module that shrank, fails too).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from pybofh_core.errors import PybofhError

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(p for p in (ROOT / "plugins").glob("pybofh-*") if (p / "pyproject.toml").exists())

#: rooms every plugin package has (``parsers.py``: every plugin that parses tool output)
ROOMS = ("ops.py", "facts.py", "parsers.py", "checks.py", "types.py", "errors.py", "cli.py")
#: rooms a plugin has when its ``__init__.py`` implements one of these hooks
HOOK_ROOMS = {
    "settings.py": ("pybofh_register_settings",),
    "layers.py": ("pybofh_probe_layer", "pybofh_probe_device"),
}
#: files every distribution has beside its package
DIST_FILES = ("README.md", "tests/conftest.py")
#: rooms a plugin does not have, and why
NO_ROOM = {
    "pybofh-ssh": {
        "facts.py": "a transport (the ssh runner, on_host, fan_out): it reads no system state of its own",
        "parsers.py": "parses no tool output (ssh's exit status and bofh's --json are read by the runner)",
        "types.py": "its results (HostResult, HostStatus) belong to fanout.py, the one module that makes them",
        "checks.py": "its one input check, validate_host, is part of the runner's public API (runner.py)",
    },
}

#: drifted module names → the room's name
DRIFTED = {
    "parse.py": "parsers.py", "parser.py": "parsers.py", "layer.py": "layers.py", "fact.py": "facts.py",
    "check.py": "checks.py", "validate.py": "checks.py", "type.py": "types.py", "error.py": "errors.py",
    "exceptions.py": "errors.py", "operations.py": "ops.py", "setting.py": "settings.py",
}
#: old module names kept so existing imports work: they may hold nothing but re-exports
SHIMS = {
    "pybofh-lvm/pybofh_lvm/parse.py": "pybofh_lvm.parsers",
    "pybofh-crypt/pybofh_crypt/layer.py": "pybofh_crypt.layers",
}

#: the root error class (in ``errors.py``) of each plugin
ROOT_ERRORS = {
    "pybofh-blockdev": "BlockdevError",
    "pybofh-btrfs": "BtrfsError",
    "pybofh-crypt": "CryptError",
    "pybofh-drbd": "DrbdError",
    "pybofh-lvm": "LvmError",
    "pybofh-ssh": "SshError",
    "pybofh-xen": "XenError",
}
#: exception classes that do not derive from their plugin's root error, and why
NOT_ROOTED = {
    "pybofh_ssh.cli_fanout.HostCommandError": "the fan-out's report of a failed child bofh: a plain PybofhError so "
                                              "the CLI renders it like the core's errors (ssh's modules are not moved "
                                              "in this pass)",
    "pybofh_ssh.resident.SessionUnavailable": "control flow inside the runner (falls back to one ssh per command), "
                                              "never raised to callers",
    "pybofh_ssh.resident.SessionLost": "control flow inside the runner (becomes HostUnreachableError), never raised "
                                       "to callers",
    "pybofh_ssh.resident.SessionTimeout": "control flow inside the runner (becomes the core's timeout error), never "
                                          "raised to callers",
}

#: modules that parse (besides ``parsers.py``): a format big enough for its own module, re-exported or used by parsers
PARSER_MODULES = {
    "pybofh-drbd": ("drbdconf.py",),
    "pybofh-xen": ("xlcfg.py",),
}
RUNNER = "pybofh_core.runner"

MAX_LINES = 900
#: modules longer than MAX_LINES, and why
LONG_MODULES = {
    "pybofh-btrfs/pybofh_btrfs/parsers.py": "one short section per btrfs-progs command (subvolume, filesystem, "
                                            "device, qgroup, scrub, balance, receive), sharing the size and JSON "
                                            "helpers; no section is a format of its own worth a module",
}


def _package(plugin: Path) -> Path:
    return plugin / plugin.name.replace("-", "_")


def _ids(plugin: Path) -> str:
    return plugin.name


def test_every_plugin_is_listed() -> None:
    """A new plugin distribution gets a root error here (and its exemptions, if any)."""
    assert PLUGIN_DIRS
    assert sorted(ROOT_ERRORS) == [p.name for p in PLUGIN_DIRS]


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=_ids)
def test_the_rooms_exist(plugin: Path) -> None:
    package = _package(plugin)
    exempt = NO_ROOM.get(plugin.name, {})
    missing = [room for room in ROOMS if room not in exempt and not (package / room).is_file()]
    missing += [f for f in DIST_FILES if not (plugin / f).is_file()]
    assert not missing, f"{plugin.name} lacks {', '.join(missing)}"
    needless = [room for room in exempt if (package / room).is_file()]
    assert not needless, f"{plugin.name} has {', '.join(needless)}: drop it from NO_ROOM"


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=_ids)
def test_settings_and_layers_have_their_rooms(plugin: Path) -> None:
    """Settings are declared in ``settings.py``, layers made in ``layers.py``, whenever the plugin has them."""
    package = _package(plugin)
    hooks = {node.name for node in ast.parse((package / "__init__.py").read_text()).body
             if isinstance(node, ast.FunctionDef)}
    missing = [room for room, names in HOOK_ROOMS.items() if hooks & set(names) and not (package / room).is_file()]
    assert not missing, f"{plugin.name} implements {sorted(hooks)} but lacks {', '.join(missing)}"


def _only_reexports(path: Path) -> list[str]:
    """What in ``path`` is more than a docstring, ``from __future__``, relative ``from .x import …`` and ``__all__``."""
    extra = []
    for i, node in enumerate(ast.parse(path.read_text()).body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and (node.level or node.module == "__future__"):
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        extra.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
    return extra


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=_ids)
def test_no_drifted_module_names_but_declared_shims(plugin: Path) -> None:
    package = _package(plugin)
    bad = []
    for name, room in DRIFTED.items():
        path = package / name
        key = str(path.relative_to(ROOT / "plugins"))
        if not path.is_file():
            continue
        if key not in SHIMS:
            bad.append(f"{key} (the room is {room})")
            continue
        bad += [f"{key} is a shim but has {extra}" for extra in _only_reexports(path)]
        text = path.read_text()
        target = SHIMS[key].rsplit(".", 1)[1]
        if f"from .{target} import" not in text:
            bad.append(f"{key} does not re-export {SHIMS[key]}")
    assert not bad, "drifted module names: " + "; ".join(bad)


def test_declared_shims_exist() -> None:
    gone = [key for key in SHIMS if not (ROOT / "plugins" / key).is_file()]
    assert not gone, f"SHIMS lists modules that are gone: {gone}"


def _modules(plugin: Path) -> list[str]:
    package = importlib.import_module(_package(plugin).name)
    return [package.__name__, *(m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}."))]


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=_ids)
def test_every_exception_derives_from_the_root_error(plugin: Path) -> None:
    package = _package(plugin).name
    errors = importlib.import_module(f"{package}.errors")
    root = getattr(errors, ROOT_ERRORS[plugin.name], None)
    assert isinstance(root, type), f"{package}.errors defines no {ROOT_ERRORS[plugin.name]}"
    assert root.__module__ == errors.__name__ and issubclass(root, PybofhError), \
        f"{root!r} must be defined in {package}.errors and derive from PybofhError"
    bad = []
    for name in _modules(plugin):
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == name \
                    and not issubclass(cls, root):
                qualname = f"{name}.{cls.__qualname__}"
                if qualname not in NOT_ROOTED:
                    bad.append(qualname)
    assert not bad, f"exceptions of {plugin.name} not derived from {root.__name__}: {', '.join(bad)}"


def test_not_rooted_lists_only_real_exceptions() -> None:
    stale = []
    for qualname in NOT_ROOTED:
        module, _, name = qualname.rpartition(".")
        if not isinstance(getattr(importlib.import_module(module), name, None), type):
            stale.append(qualname)
    assert not stale, f"NOT_ROOTED lists classes that are gone: {stale}"


def _local_imports(path: Path, package: str) -> tuple[set[str], set[str]]:
    """(absolute modules, sibling module files) that ``path`` imports anywhere in it (functions too)."""
    absolute: set[str] = set()
    siblings: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            absolute |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    siblings.add(node.module.split(".")[0] + ".py")
                else:
                    siblings |= {f"{a.name}.py" for a in node.names}
            elif node.level == 0 and node.module:
                absolute |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
                if node.module == package:
                    siblings |= {f"{a.name}.py" for a in node.names}
    return absolute, siblings


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=_ids)
def test_parsers_import_no_runner(plugin: Path) -> None:
    """Parsers are pure: neither they nor any module of the plugin they import (directly or not) use the runner."""
    package = _package(plugin)
    start = [n for n in ("parsers.py", *PARSER_MODULES.get(plugin.name, ())) if (package / n).is_file()]
    seen: set[str] = set()
    todo = list(start)
    bad = []
    while todo:
        name = todo.pop()
        if name in seen or not (package / name).is_file():
            continue
        seen.add(name)
        absolute, siblings = _local_imports(package / name, package.name)
        if any(m == RUNNER or m.startswith(RUNNER + ".") for m in absolute):
            bad.append(name)
        todo += sorted(siblings - seen)
    assert not bad, f"{plugin.name}: the parsers ({', '.join(start)}) reach the runner through {', '.join(bad)}"


def _long_modules(plugin: Path) -> dict[str, int]:
    return {str(p.relative_to(ROOT / "plugins")): n for p in sorted(_package(plugin).glob("**/*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_LINES}


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=_ids)
def test_no_module_is_too_long(plugin: Path) -> None:
    long = {key: n for key, n in _long_modules(plugin).items() if key not in LONG_MODULES}
    assert not long, f"modules over {MAX_LINES} lines (split by format or concern, or list with a reason): {long}"


def test_long_modules_lists_only_long_modules() -> None:
    found = {key for plugin in PLUGIN_DIRS for key in _long_modules(plugin)}
    stale = sorted(set(LONG_MODULES) - found)
    assert not stale, f"LONG_MODULES lists modules no longer over {MAX_LINES} lines: {stale}"
