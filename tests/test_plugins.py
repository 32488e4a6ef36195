"""Plugin discovery: the six built-in plugins, a third-party one installed in a temp venv, a broken one, aliases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_core import hookimpl
from pybofh_core.errors import NotFoundError, PluginError
from pybofh_core.plugins import Plugins, canonical_name
from pybofh_core.session import get_plugins

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = ["blockdev", "btrfs", "crypt", "drbd", "lvm", "xen"]


def test_six_builtin_plugins_are_discovered() -> None:
    """Every built-in plugin is found through its entry point and loads."""
    host = Plugins()
    infos = {i.name: i for i in host.list()}
    for name in BUILTIN:
        assert infos[name].loaded, infos[name].error
        assert infos[name].distribution == f"pybofh-{name}"
        assert infos[name].version


def test_facade_returns_plugins_and_seed_aliases() -> None:
    """``from pybofh import lvm`` is the plugin module; the seed's ``blockdevice``/``encryption`` names work."""
    import pybofh

    assert pybofh.lvm is get_plugins().plugin("lvm")
    assert pybofh.blockdevice is pybofh.blockdev
    assert pybofh.encryption is pybofh.crypt
    assert canonical_name("encryption") == "crypt"
    with pytest.raises(AttributeError, match="no pybofh plugin named 'nosuch'"):
        pybofh.nosuch  # noqa: B018


def test_broken_plugin_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A site plugin that fails to import is listed with its error; the others still load."""
    monkeypatch.setenv("PYBOFH_EXTRA_PLUGINS", "broken=pybofh_no_such_module_xyz")
    host = Plugins()
    info = {i.name: i for i in host.list()}["broken"]
    assert not info.loaded and "ModuleNotFoundError" in (info.error or "")
    assert host.plugin("lvm") is not None
    with pytest.raises(PluginError, match="failed to load"):
        host.plugin("broken")
    monkeypatch.setenv("PYBOFH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken failed to load"):
        Plugins()


def test_in_process_plugin_registers_late_and_unregisters() -> None:
    """A plugin registered after start-up still gets the historic registration hooks."""
    from pybofh_core import operation

    @operation(inverse=lambda _: None)
    def noop() -> None:
        """Do nothing."""

    class Late:
        @hookimpl
        def pybofh_register_operations(self, registry):  # type: ignore[no-untyped-def]
            registry.add("late", noop)

    host = Plugins(discover=False)
    host.register(Late(), "late")
    try:
        assert host.operations.has("late.noop")
        with pytest.raises(PluginError, match="two plugins are named"):
            host.register(Late(), "late")
    finally:
        host.unregister("late")
    with pytest.raises(NotFoundError):
        host.plugin("late")


@pytest.fixture(scope="module")
def third_party_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv that sees this interpreter's packages and has the fake and the broken plugin pip-installed."""
    base = tmp_path_factory.mktemp("venv")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Their build back-end (setuptools, from PyPI) comes at the version of constraints.txt: PIP_CONSTRAINT reaches
    # the build environment of older pip (the venv's is ensurepip's), PIP_BUILD_CONSTRAINT that of pip >= 25.3.
    constraints = str(ROOT / "constraints.txt")
    env = {**os.environ, "PIP_CONSTRAINT": constraints, "PIP_BUILD_CONSTRAINT": constraints}
    for pkg in ("fake_plugin", "broken_plugin"):
        src = shutil.copytree(ROOT / "tests" / pkg, base / pkg)  # building in place would litter the checkout
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--no-deps", str(src)],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    # Then let the venv see pybofh-core and its dependencies as this interpreter does (not its stdlib).
    stdlib = {os.path.realpath(p) for p in sys.path if p and not p.endswith("site-packages") and sys.base_prefix in p}
    parent = [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) not in stdlib]
    Path(site, "_parent_paths.pth").write_text("\n".join(parent) + "\n")
    yield python


def test_third_party_plugin_listed_by_bofh_plugins(third_party_venv: Path) -> None:
    """``bofh plugins --json`` in the venv lists the six, the third-party plugin, and the broken one with its error."""
    out = subprocess.run(
        [third_party_venv, "-m", "pybofh_core.cli", "plugins", "--json"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert set(BUILTIN) <= set(rows)
    assert (
        rows["fake"]["loaded"] and rows["fake"]["distribution"] == "pybofh-fake" and rows["fake"]["version"] == "0.0.1"
    )
    assert not rows["broken"]["loaded"] and "pybofh_no_such_dependency" in rows["broken"]["error"]
    assert rows["broken"]["distribution"] == "pybofh-broken"
    table = subprocess.run(
        [third_party_venv, "-m", "pybofh_core.cli", "plugins"], capture_output=True, text=True, timeout=120
    )
    assert table.returncode == 0
    assert any(line.startswith("broken") and "error: ModuleNotFoundError" in line for line in table.stdout.splitlines())


def test_third_party_operation_rolled_back_by_atomic(third_party_venv: Path, tmp_path: Path) -> None:
    """``Atomic()`` knows the third-party plugin's inverse: its marker is removed when a later step fails."""
    script = textwrap.dedent(
        """
        import sys
        from pybofh import Atomic
        from pybofh_core.errors import CommandError
        try:
            with Atomic() as atomic:
                atomic.fake.create_marker(sys.argv[1])
                atomic.fake.fail()
        except CommandError as exc:
            print("failed:", exc.returncode, exc.__notes__)
        """
    )
    marker = tmp_path / "marker"
    env = dict(os.environ, PYBOFH_JOURNAL_DIR=str(tmp_path / "journal"))
    out = subprocess.run(
        [third_party_venv, "-c", script, str(marker)], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("failed: 1 ['pybofh: rolled back 1 step(s)")
    assert not marker.exists()


def test_third_party_plugin_found_through_the_discovery_cache(third_party_venv: Path, tmp_path: Path) -> None:
    """With the discovery cache warm, the venv's third-party plugins are still listed (and the broken one with its
    error), and ``bofh --help`` shows the same groups as a full discovery."""
    env = {**os.environ, "PYBOFH_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYBOFH_NO_PLUGIN_CACHE", None)
    env.pop("PYBOFH_EXTRA_PLUGINS", None)
    bofh = [third_party_venv, "-c", "from pybofh_core.cli import main; main()"]
    runs = [subprocess.run([*bofh, "plugins", "--json"], capture_output=True, text=True, env=env, timeout=120)
            for _ in range(2)]
    assert list((tmp_path / "cache").glob("plugins-*.json")), "no discovery cache was written"
    for out in runs:
        assert out.returncode == 0, out.stderr
        rows = {r["name"]: r for r in json.loads(out.stdout)}
        assert rows["fake"]["loaded"] and rows["fake"]["distribution"] == "pybofh-fake"
        assert not rows["broken"]["loaded"] and "pybofh_no_such_dependency" in rows["broken"]["error"]
    helps = [subprocess.run([*bofh, "--help"], capture_output=True, text=True, env=e, timeout=120).stdout
             for e in (env, {**env, "PYBOFH_NO_PLUGIN_CACHE": "1"})]
    assert helps[0] == helps[1] and "\n  lvm " in helps[0]


def test_every_distribution_ships_py_typed_and_all_names_every_plugin() -> None:
    """Type checkers read pybofh's annotations only from packages marked ``py.typed`` (PEP 561); ``pybofh-core[all]``
    installs every plugin of this tree."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    projects = [root / "pybofh_core", *sorted(p.parent for p in (root / "plugins").glob("*/pyproject.toml"))]
    for project in projects:
        meta = tomllib.loads((project / "pyproject.toml").read_text())
        packages = meta["tool"]["setuptools"]["packages"]
        data = meta["tool"]["setuptools"].get("package-data", {})
        for package in packages:
            assert (project / package / "py.typed").is_file(), f"{project.name}: {package}/py.typed is missing"
            assert "py.typed" in data.get(package, []), f"{project.name}: py.typed is not in {package}'s package-data"
    core = tomllib.loads((root / "pybofh_core" / "pyproject.toml").read_text())
    extra = {r.split(">")[0] for r in core["project"]["optional-dependencies"]["all"]}
    assert extra == {p.name for p in projects[1:]}


# --- declared hooks and plugin selection ----------------------------------------------------------------------------


def test_misspelt_hook_is_refused_before_the_plugin_registers_anything() -> None:
    """A ``@hookimpl`` whose name is no pybofh hook (pluggy's ``check_pending``) is an error naming the closest hook,
    raised before any of the plugin's hooks ran: its correctly spelt registration hook registered nothing either."""
    from pybofh_core import operation

    @operation(no_undo="it does nothing")
    def nothing() -> None:
        """Do nothing."""

    class Misspelt:
        @hookimpl
        def pybofh_register_operations(self, registry):  # type: ignore[no-untyped-def]
            registry.add("misspelt", nothing)

        @hookimpl
        def pybofh_register_clii(self, registry):  # type: ignore[no-untyped-def]
            raise AssertionError("never called")

    host = Plugins(discover=False)
    with pytest.raises(PluginError, match=r"plugin misspelt: pybofh_register_clii is marked @hookimpl but pybofh "
                                          r"has no hook 'pybofh_register_clii'; did you mean pybofh_register_cli\?"):
        host.register(Misspelt(), "misspelt")
    assert not host.operations.has("misspelt.nothing")
    assert "misspelt" not in host.infos


def test_misspelt_hook_in_a_site_plugin_is_its_load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module plugin whose marked hook does not even start with ``pybofh_`` is reported as that plugin's error
    (``bofh plugins`` shows it); the other plugins load, and strict mode raises it."""
    (tmp_path / "pybofh_typo_site.py").write_text(textwrap.dedent('''
        from pybofh_core import hookimpl

        @hookimpl
        def pyboff_register_cli(registry):
            raise AssertionError("never called")
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYBOFH_EXTRA_PLUGINS", "typo=pybofh_typo_site")
    host = Plugins()
    info = host.infos["typo"]
    assert not info.loaded and "no hook 'pyboff_register_cli'; did you mean pybofh_register_cli?" in (info.error or "")
    assert info.status.startswith("error: ") and host.infos["lvm"].loaded
    monkeypatch.setenv("PYBOFH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="pyboff_register_cli"):
        Plugins()


def test_a_site_plugin_shows_its_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin loaded by ``PYBOFH_EXTRA_PLUGINS`` shows its ``__version__`` in ``bofh plugins`` (it was "-")."""
    (tmp_path / "pybofh_site_versioned.py").write_text('__version__ = "2.3.1"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYBOFH_EXTRA_PLUGINS", "versioned=pybofh_site_versioned")
    info = Plugins().infos["versioned"]
    assert info.loaded and info.version == "2.3.1"


def _selected(env: dict[str, str]) -> dict[str, object]:
    """In a fresh interpreter with ``env``: each plugin's status, the plugin modules imported, what warned."""
    code = textwrap.dedent('''
        import json, sys
        from pybofh_core.plugins import Plugins
        host = Plugins()
        print(json.dumps({"status": {i.name: i.status for i in host.list()},
                          "imported": sorted(m for m in sys.modules if m.startswith("pybofh_") and "." not in m)}))
    ''')
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=True)
    return {**json.loads(proc.stdout), "stderr": proc.stderr}


@pytest.mark.parametrize("cache", ["cache", "no-cache"])
def test_plugins_selected_and_blocked_by_name_are_not_imported(cache: str, tmp_path: Path) -> None:
    """``PYBOFH_PLUGINS`` loads only the plugins it names (seed aliases accepted) and ``PYBOFH_DISABLE_PLUGINS``
    none it names; a plugin left out is not imported, is listed as disabled, and a name that is no plugin warns —
    from the discovery cache and from a scan alike."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYBOFH_EXTRA_PLUGINS", "PYBOFH_NO_PLUGIN_CACHE")}
    env["PYBOFH_CACHE_DIR"] = str(tmp_path / "cache")
    if cache == "cache":
        _selected(env)  # a full discovery writes the cache the selections below read
    else:
        env["PYBOFH_NO_PLUGIN_CACHE"] = "1"
    only = _selected({**env, "PYBOFH_PLUGINS": "lvm, blockdevice,lvmm"})
    status = only["status"]
    assert isinstance(status, dict)
    assert status["lvm"] == status["blockdev"] == "ok"
    assert status["xen"] == status["crypt"] == "disabled: PYBOFH_PLUGINS does not name it"
    assert "pybofh_xen" not in only["imported"] and "pybofh_crypt" not in only["imported"]
    assert "PYBOFH_PLUGINS names 'lvmm', which is not an installed plugin" in str(only["stderr"])
    blocked = _selected({**env, "PYBOFH_DISABLE_PLUGINS": "xen,encryption"})
    status = blocked["status"]
    assert isinstance(status, dict)
    assert status["xen"] == status["crypt"] == "disabled: PYBOFH_DISABLE_PLUGINS names it"
    assert status["lvm"] == "ok" and "pybofh_xen" not in blocked["imported"]
    assert not blocked["stderr"]


def test_a_disabled_plugins_command_says_so(tmp_path: Path) -> None:
    """``bofh xen …`` with xen disabled: a one-line usage error that says why (not "No such command"), exit 2;
    ``bofh --help`` does not list it; ``from pybofh import xen`` names the reason too."""
    bofh = [sys.executable, "-m", "pybofh_core.cli"]
    env = {**os.environ, "PYBOFH_DISABLE_PLUGINS": "xen", "PYBOFH_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYBOFH_EXTRA_PLUGINS", None)
    proc = subprocess.run([*bofh, "xen", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == ("Error: bofh xen: the plugin xen is installed but disabled: "
                                                   "PYBOFH_DISABLE_PLUGINS names it")
    helped = subprocess.run([*bofh, "--help"], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert "\n  lvm " in helped.stdout and "\n  xen " not in helped.stdout
    code = "import pybofh\ntry:\n    pybofh.xen\nexcept Exception as e:\n    print(e)"
    said = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "plugin 'xen' is installed but disabled: PYBOFH_DISABLE_PLUGINS names it" in said.stdout
