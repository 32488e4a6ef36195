"""The plugin discovery cache: trusted only while the installed distributions are unchanged, never when damaged,
and ``bofh --help`` from it lists exactly what a full discovery lists (without importing pluggy or any plugin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_core import entrypoints
from pybofh_core.plugins import Plugins

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_plugin"
BOFH = Path(sys.executable).parent / "bofh"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache dir for this test (the cache is on, whatever the environment says)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("PYBOFH_CACHE_DIR", str(path))
    monkeypatch.delenv("PYBOFH_NO_PLUGIN_CACHE", raising=False)
    monkeypatch.delenv("PYBOFH_EXTRA_PLUGINS", raising=False)
    yield path


def _install_fake_dist(site: Path) -> Path:
    """Make ``site`` hold the fake plugin as an installed distribution (a dist-info with its entry point)."""
    dist = site / "pybofh_fake-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pybofh-fake\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[pybofh.plugins]\nfake = pybofh_fake\n")
    (dist / "top_level.txt").write_text("pybofh_fake\n")
    return dist


def test_cache_is_written_then_used(cache_dir: Path) -> None:
    """A full discovery writes the cache; the next host is built from it with the same plugins and CLI groups."""
    first = Plugins()
    data = entrypoints.load()
    assert data is not None, "no cache written"
    assert {p["name"] for p in data["plugins"]} == {i.name for i in first.list()}
    assert entrypoints.cache_path().stat().st_mode & 0o777 == 0o600
    second = Plugins()
    assert [i.to_json() for i in second.list()] == [i.to_json() for i in first.list()]
    assert {n: (e.app, e.help) for n, e in second.cli.entries.items()} == {
        n: (e.app, e.help) for n, e in first.cli.entries.items()
    }


def _discover(env: dict[str, str]) -> dict[str, object]:
    """Discover plugins in a new process (as each ``bofh`` run does; stevedore memoises entry points in-process):
    the plugins found and whether the discovery cache was valid before."""
    code = (
        "import json\nfrom pybofh_core import entrypoints\nfrom pybofh_core.plugins import Plugins\n"
        "hit = entrypoints.load() is not None\nhost = Plugins()\n"
        "print(json.dumps({'hit': hit, 'plugins': {i.name: i.to_json() for i in host.list()}, "
        "'cached': [p['name'] for p in (entrypoints.load() or {'plugins': []})['plugins']]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_cache_invalidated_when_a_distribution_is_installed_or_removed(cache_dir: Path, tmp_path: Path) -> None:
    """Adding a dist-info on a sys.path entry makes the cache stale: the new plugin is discovered and cached;
    removing it again drops it (each step a new process, as each ``bofh`` run is)."""
    site = tmp_path / "site"
    site.mkdir()
    # the fake plugin's package is importable, and installed only once its dist-info appears in ``site``
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(FAKE)])}
    first = _discover(env)
    assert not first["hit"] and "fake" not in first["plugins"]  # type: ignore[operator]
    again = _discover(env)
    assert again["hit"] and again["plugins"] == first["plugins"]

    dist = _install_fake_dist(site)
    installed = _discover(env)
    assert not installed["hit"], "a new distribution must invalidate the cache"
    fake = installed["plugins"]["fake"]  # type: ignore[index]
    assert fake["loaded"] and fake["distribution"] == "pybofh-fake" and fake["version"] == "0.0.1"
    assert "fake" in installed["cached"]  # type: ignore[operator]
    from_cache = _discover(env)
    assert from_cache["hit"] and from_cache["plugins"] == installed["plugins"]

    for f in dist.iterdir():
        f.unlink()
    dist.rmdir()
    removed = _discover(env)
    assert not removed["hit"], "a removed distribution must invalidate the cache"
    assert "fake" not in removed["plugins"] and "fake" not in removed["cached"]  # type: ignore[operator]


def test_cache_invalidated_when_a_plugin_module_changes(cache_dir: Path) -> None:
    """An edited plugin ``__init__`` (an editable install) may register other things: the cache is not trusted."""
    Plugins()
    data = entrypoints.load()
    assert data is not None
    origin = next(p["origin"] for p in data["plugins"] if p["name"] == "lvm")
    st = os.stat(origin)
    try:
        os.utime(origin, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert entrypoints.load() is None
    finally:
        os.utime(origin, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize(
    "damage",
    [
        b"{not json",
        b"",
        b"\x00\xff" * 40,
        json.dumps({"version": entrypoints.CACHE_VERSION, "group": "pybofh.plugins", "plugins": "x"}).encode(),
        "truncate",
        "wrong-types",
        "old-version",
    ],
)
def test_damaged_cache_is_ignored_and_rewritten(cache_dir: Path, damage: bytes | str) -> None:
    """A cache file that is not exactly what pybofh writes is ignored (full discovery) and replaced by a good one."""
    Plugins()
    path = entrypoints.cache_path()
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "wrong-types":
        data = json.loads(good)
        data["plugins"][0]["cli"] = [{"name": 1, "app": None, "help": ""}]
        path.write_text(json.dumps(data))
    elif damage == "old-version":
        path.write_text(json.dumps({**json.loads(good), "version": entrypoints.CACHE_VERSION - 1}))
    else:
        assert isinstance(damage, bytes)
        path.write_bytes(damage)
    assert entrypoints.load() is None
    host = Plugins()
    assert {"blockdev", "lvm", "crypt"} <= {i.name for i in host.list() if i.loaded}
    assert entrypoints.load() is not None, "the damaged cache was not rewritten"


def test_cache_of_another_user_is_not_trusted(cache_dir: Path) -> None:
    """A cache file owned by someone else is ignored (it decides which modules are imported)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    Plugins()
    os.chown(entrypoints.cache_path(), 65534, 65534)
    assert entrypoints.load() is None


def test_cache_off(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``PYBOFH_NO_PLUGIN_CACHE=1``: nothing is read or written."""
    monkeypatch.setenv("PYBOFH_NO_PLUGIN_CACHE", "1")
    Plugins()
    assert not entrypoints.cache_path().exists()


def _bofh(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [str(BOFH)] if BOFH.exists() else [sys.executable, "-c", "from pybofh_core.cli import main; main()"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("args", [["--help"], ["lvm", "--help"], ["blockdevice", "--help"], ["ssh", "--help"]])
def test_help_from_cache_is_the_help_without_it(tmp_path: Path, args: list[str]) -> None:
    """``bofh --help`` (every plugin's sub-app and help line) and a sub-app's help are the same with the cache as
    with a full discovery, and sub-apps use plain help like the root (no rich box drawing)."""
    env = {**os.environ, "PYBOFH_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "100"}
    env.pop("PYBOFH_EXTRA_PLUGINS", None)
    env.pop("PYBOFH_NO_PLUGIN_CACHE", None)
    without = _bofh(args, {**env, "PYBOFH_NO_PLUGIN_CACHE": "1"})
    assert without.returncode == 0, without.stderr
    warm = _bofh(["plugins"], env)
    assert warm.returncode == 0, warm.stderr
    assert list((tmp_path / "cache").glob("plugins-*.json")), "bofh plugins wrote no cache"
    cached = _bofh(args, env)
    assert cached.returncode == 0, cached.stderr
    assert cached.stdout == without.stdout
    assert "─" not in cached.stdout and "╭" not in cached.stdout
    if args == ["--help"]:
        for name in ("blockdev", "btrfs", "crypt", "drbd", "lvm", "ssh", "xen", "journal", "plugins"):
            assert f"\n  {name} " in cached.stdout


def test_help_from_cache_imports_no_plugin_machinery(tmp_path: Path) -> None:
    """With a warm cache, ``bofh --help`` imports neither pluggy, stevedore, the entry-point scan nor any plugin, and
    ``bofh lvm --help`` only the lvm CLI module (and its package)."""
    code = (
        "import json, sys\nfrom pybofh_core.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYBOFH_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYBOFH_EXTRA_PLUGINS", None)
    env.pop("PYBOFH_NO_PLUGIN_CACHE", None)
    for args in (["plugins"], ["--help"], ["lvm", "--help"]):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        modules = set(json.loads(out.stderr.strip().splitlines()[-1]))
        if args == ["plugins"]:
            continue  # warms the cache for this sys.path
        heavy = {"stevedore", "pybofh_core.plugins", "pybofh_core.atomic"} & modules
        if args == ["--help"]:
            # lvm --help imports pybofh_lvm (its hookimpl marker is pluggy's) and typer's pydantic (which scans
            # entry points for its own plugins: the floor pays that too)
            heavy |= {"pluggy", "importlib.metadata"} & modules
        assert not heavy, (args, heavy)
        plugin_modules = {m for m in modules if m.startswith("pybofh_") and not m.startswith("pybofh_core")}
        assert plugin_modules <= {"pybofh_lvm", "pybofh_lvm.cli"}, plugin_modules


def test_fingerprint_sees_pth_and_egg_link(tmp_path: Path) -> None:
    """Editable installs (``.pth``, ``.egg-link``) change the fingerprint too; other files do not."""
    path = [str(tmp_path)]
    before = entrypoints.fingerprint(path)
    (tmp_path / "notes.txt").write_text("x")
    assert entrypoints.fingerprint(path) == before
    (tmp_path / "_editable.pth").write_text("/somewhere\n")
    after_pth = entrypoints.fingerprint(path)
    assert after_pth != before
    (tmp_path / "thing.egg-link").write_text("/somewhere\n")
    assert entrypoints.fingerprint(path) != after_pth
