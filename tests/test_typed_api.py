"""The public API is typed for its users: what ``pybofh`` and each plugin package resolve lazily through a module
``__getattr__`` is spelled out in ``if TYPE_CHECKING:`` imports, so ``mypy --strict`` passes on the README's examples,
the seed README's and a job through four plugins, and ``reveal_type(pybofh.lvm.create_lv)`` is a signature, not
``Any``. ``dir()`` and ``help()`` of a plugin show its API, which is still imported only when it is used."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import pydoc
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED_README = ROOT.parent / "shared" / "SEED-pybofh-README.txt"
#: entry-point name → import package of the plugins in this tree
PLUGINS = dict(sorted(
    (name, value.split(":")[0])
    for pyproject in (ROOT / "plugins").glob("*/pyproject.toml")
    for name, value in tomllib.loads(pyproject.read_text())["project"].get("entry-points", {})
    .get("pybofh.plugins", {}).items()
))

#: LV → LUKS → ext4 → mount in one atomic block, each step given what the one before returned
JOB = '''
"""Make an encrypted, mounted volume; a failure anywhere undoes every step before it."""

from __future__ import annotations

from pybofh import Atomic, Secret, blockdev, crypt, lvm


def encrypted_volume(vg: str, name: str, passphrase: Secret, mountpoint: str) -> blockdev.Mount:
    with Atomic(label=f"encrypted volume {name}"):
        lv: lvm.LogicalVolume = lvm.create_lv(vg, name, "1G")
        luks = crypt.format(lv.path, passphrase, label=name)
        mapping = crypt.open(luks.device, f"{name}_crypt", passphrase)
        fs = blockdev.create_filesystem(mapping.path, "ext4", label=name)
        mounted: blockdev.Mount = blockdev.mount(fs.device, mountpoint, ["noatime"])
    return mounted


def names_of_running_domus() -> list[str]:
    from pybofh import xen

    return [domu.name for domu in xen.all_domus() if xen.is_domu_running(domu)]
'''

#: expression → what its revealed type must mention (and it must not be Any)
REVEAL = {
    "pybofh.lvm.create_lv": "LogicalVolume",
    "pybofh.lvm.createLV": "LogicalVolume",  # the seed's camelCase alias
    "pybofh.encryption.open": "Mapping",  # the seed's plugin name
    "pybofh.crypt.luks_format": "Formatted",
    "pybofh.blockdevice.MountPool": "MountPool",
    "pybofh.xen.allDomus": "DomU",
    "pybofh.Atomic": "Atomic",
    "pybofh.settings": "Settings",
}


def _type_checking_imports(path: Path, *, relative: bool = False) -> dict[str, tuple[str, str]]:
    """``name → (module, attribute)`` of the ``from M import A as NAME`` in the module's ``if TYPE_CHECKING:``
    (``relative``: only ``from .M``, a package's own modules)."""
    found: dict[str, tuple[str, str]] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and (stmt.level or not relative):
                    module = "." * stmt.level + (stmt.module or "")
                    found.update({a.asname or a.name: (module, a.name) for a in stmt.names})
    return found


def _all_added_for_type_checkers(path: Path) -> list[str]:
    """The names of ``__all__ += [...]`` inside ``if TYPE_CHECKING:`` (what mypy is told the ``as`` aliases are)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.AugAssign) and getattr(stmt.target, "id", None) == "__all__":
                    return list(ast.literal_eval(stmt.value))
    return []


@pytest.mark.parametrize("package", sorted(PLUGINS.values()))
def test_type_checkers_see_what_getattr_resolves(package: str) -> None:
    """Each plugin's ``if TYPE_CHECKING:`` imports name exactly its lazy ``_API``, each the object ``__getattr__``
    returns; an import under another name (a seed alias) is re-exported through ``__all__``."""
    module = importlib.import_module(package)
    path = Path(module.__file__ or "")
    seen = _type_checking_imports(path, relative=True)
    assert sorted(seen) == sorted(module._API), f"{path}: TYPE_CHECKING imports and _API differ"
    for name, (source, attr) in seen.items():
        if source == ".":  # ``from . import keys as keys``: the submodule
            expected = importlib.import_module(f"{package}.{attr}")
        else:
            expected = getattr(importlib.import_module(source, package), attr)
        assert module.__getattr__(name) is expected, f"{package}.{name}: TYPE_CHECKING says {source}.{attr}"
    assert module.__all__ == list(module._API)
    renamed = sorted(name for name, (_, attr) in seen.items() if attr != name)
    assert sorted(_all_added_for_type_checkers(path)) == renamed, f"{path}: __all__ += must list {renamed}"


@pytest.mark.parametrize("package", sorted(PLUGINS.values()))
def test_no_submodule_hides_an_api_name(package: str) -> None:
    """Importing a submodule sets the package attribute of its name, which then hides the lazy ``__getattr__``:
    an API name that is not that very submodule must not be the name of one (``crypt.status`` once was the
    ``status.py`` of ``bofh status``; that module is ``bofh_status.py`` now)."""
    import pkgutil

    module = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    for name in sorted(set(module._API) & submodules):
        importlib.import_module(f"{package}.{name}")
        assert module._API[name] is None, f"{package}.{name} is the API's {module._API[name]}.{name} and a submodule"


def test_the_facade_spells_out_every_lazy_name() -> None:
    """``pybofh``'s ``if TYPE_CHECKING:`` block names every ``_CORE`` name from its module, ``settings``, and every
    plugin (the seed's names too) as the plugin's package."""
    import pybofh
    from pybofh_core.entrypoints import ALIASES

    path = Path(pybofh.__file__ or "")
    imported = _type_checking_imports(path)
    for name, module in pybofh._CORE.items():
        assert imported.get(name) == (module, name), f"pybofh.{name} is not imported from {module} for type checkers"
    block = next(n for n in ast.parse(path.read_text()).body if isinstance(n, ast.If))
    assigned = {s.targets[0].id: ast.unparse(s.value) for s in block.body
                if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name)}
    plugins = {name: PLUGINS[ALIASES.get(name, name)] for name in [*PLUGINS, *ALIASES]}
    assert assigned == plugins
    annotated = {s.target.id for s in block.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    assert annotated == {"settings"}


def test_dir_lists_the_api_without_importing_it() -> None:
    """``dir(plugin)`` lists its API (and its hookimpls); in a new process nothing of the API is imported by it."""
    code = (
        "import json, sys\n"
        f"packages = {sorted(PLUGINS.values())!r}\n"
        "mods = [__import__(p) for p in packages]\n"
        "names = {m.__name__: dir(m) for m in mods}\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in packages and '.' in m]\n"
        "print(json.dumps({'names': names, 'loaded': loaded}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    assert result["loaded"] == []
    for package, names in result["names"].items():
        module = importlib.import_module(package)
        assert set(module._API) <= set(names), package
        hookimpls = sorted(n for n in vars(module) if n.startswith("pybofh_"))
        assert hookimpls == [n for n in names if n.startswith("pybofh_")], package


@pytest.mark.parametrize("package", sorted(PLUGINS.values()))
def test_help_documents_the_api(package: str) -> None:
    """``help(pybofh.lvm)`` (pydoc) documents every API name, resolving each through ``__getattr__``."""
    module = importlib.import_module(package)
    text = pydoc.render_doc(module, renderer=pydoc.plaintext)
    submodules = {name for name, spec in module._API.items() if spec is None}  # PACKAGE CONTENTS lists them
    missing = [name for name in module._API
               if name not in submodules and not re.search(rf"^    (?:class )?{re.escape(name)}\b", text, re.M)]
    assert missing == [], f"help({package}) does not document {missing}"
    if package == "pybofh_lvm":
        assert "\n    create_lv(" in text and "\n    createLV = create_lv(" in text


def _readme_blocks() -> list[tuple[str, str]]:
    """(README#N, code) of the README's fenced Python blocks."""
    text = (ROOT / "README.md").read_text()
    return [(f"README#{i + 1}", m.group(1))
            for i, m in enumerate(re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M))]


def _seed_blocks() -> list[tuple[str, str]]:
    """(seed#N, code) of the seed README's indented code blocks that are Python 3 (not its Python 2 ``print``),
    with the names they use from pybofh imported."""
    if not SEED_README.is_file():
        return []
    blocks: list[str] = []
    current: list[str] = []
    previous_blank = True
    for line in [*SEED_README.read_text().splitlines(), ""]:
        if line.startswith("    ") and (current or previous_blank):
            current.append(line)
        elif not line.strip() and current:
            current.append("")
        else:
            if current:
                blocks.append(textwrap.dedent("\n".join(current)).strip() + "\n")
            current = []
        previous_blank = not line.strip()
    if current:
        blocks.append(textwrap.dedent("\n".join(current)).strip() + "\n")
    found = []
    for i, code in enumerate(blocks):
        code = code.replace("mountpoint.mount(", "mountpool.mount(")  # the seed's typo: its pool is `mountpool`
        try:
            compile(code, f"seed#{i + 1}", "exec")
        except SyntaxError:
            continue
        header = "from pybofh import Atomic, AtomicOperationSequence, blockdevice, lvm, xen\n\n"
        found.append((f"seed#{i + 1}", header + code))
    return found


def _untyped_defs(code: str) -> bool:
    return any(isinstance(n, ast.FunctionDef) and (n.returns is None or any(a.annotation is None for a in n.args.args))
               for n in ast.walk(ast.parse(code)))


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    """One ``mypy --strict`` over every example (a file each), the job and the ``reveal_type`` probes."""
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("CI"):
            pytest.fail("mypy is not installed: scripts/setup installs requirements-dev.txt into .venv")
        pytest.skip("mypy is not installed here (requirements-dev.txt)")
    missing = [p for p in ("pybofh_lvm", "pybofh_crypt", "pybofh_blockdev", "pybofh_xen")
               if importlib.util.find_spec(p) is None]
    if missing:
        pytest.skip(f"the examples need the plugins {missing}")
    work = tmp_path_factory.mktemp("typed_api")
    files: dict[str, str] = {}
    for where, code in [*_readme_blocks(), *_seed_blocks()]:
        # A helper the example defines without annotations (the seed's AtomicOperationSequence example) is allowed;
        # its body is still checked (--strict checks untyped defs), and so is every call into pybofh.
        pragma = "# mypy: allow-untyped-defs\n" if _untyped_defs(code) else ""
        name = re.sub(r"\W", "_", where.lower()) + ".py"
        (work / name).write_text(pragma + code)
        files[name] = where
    (work / "job.py").write_text(textwrap.dedent(JOB).lstrip())
    files["job.py"] = "the multi-plugin job"
    (work / "reveal.py").write_text("import pybofh\n\n" + "".join(f"reveal_type({e})\n" for e in _probes()))
    files["reveal.py"] = "reveal_type probes"
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "MYPY_CACHE_DIR")}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(work / ".mypy_cache"),
         *files],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    return files, proc


def test_mypy_strict_passes_on_the_examples_and_a_multi_plugin_job(
        mypy_run: tuple[dict[str, str], subprocess.CompletedProcess[str]]) -> None:
    """The README's and the seed's examples and the job type-check under ``mypy --strict``."""
    files, proc = mypy_run
    assert any(where.startswith("README#") for where in files.values()), "no Python example found in README.md"
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    named = [f"{files.get(line.split(':')[0], '?')}: {line}" for line in errors]
    assert proc.returncode == 0 and not errors, "\n".join(named) or proc.stdout + proc.stderr


def _probes() -> list[str]:
    """What reveal.py reveals, from its line 3 on: ``REVEAL``, then every name of every plugin's API."""
    return [*REVEAL, *(f"pybofh.{entry}.{name}" for entry, package in PLUGINS.items()
                       for name in importlib.import_module(package)._API)]


def _revealed(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    lines = {int(m.group(1)): m.group(2)
             for m in re.finditer(r'^reveal\.py:(\d+): note: Revealed type is "(.*)"$', proc.stdout, re.M)}
    return {expr: lines.get(line, "<none>") for line, expr in enumerate(_probes(), start=3)}


def test_reveal_type_of_the_api_is_not_any(
        mypy_run: tuple[dict[str, str], subprocess.CompletedProcess[str]]) -> None:
    """``reveal_type(pybofh.lvm.create_lv)`` and the like are their signatures; so is every plugin API name."""
    _, proc = mypy_run
    revealed = _revealed(proc)
    for expr, mentions in REVEAL.items():
        assert revealed[expr] != "Any" and mentions in revealed[expr], f"reveal_type({expr}) is {revealed[expr]!r}"
    untyped = sorted(expr for expr, got in revealed.items() if got in ("Any", "<none>"))
    # an operation is typed only if ``operation`` is typed where its module imports it from (``pybofh_core``'s
    # ``if TYPE_CHECKING:`` block): a lazy name there would make every operation of the plugin Any
    assert untyped == [], f"these API names are Any to type checkers: {untyped}"
