"""Every "where" question a plugin asks (does this path exist, what does it resolve to, what is in this file or
directory) is answered by the current runner, i.e. on the machine the commands run on, never by this machine's
filesystem: under ``bofh --host H`` a local ``os.path.exists`` would check the wrong machine (issue 17, item 3).

The remote machine is a ``FakeRunner(host="db1")`` whose tables describe paths under ``/srv/remote-only`` (which do
not exist here) or paths that do exist here but not there (``/dev/mapper/control``).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import io
import os
import pathlib
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pybofh_core.errors import NotFoundError, ValidationError
from pybofh_core.runner import DryRunRunner, FakeRunner, LocalRunner, Result, Runner, same_path, use_runner
from pybofh_core.session import get_settings

ROOT = Path(__file__).resolve().parent.parent
REMOTE = "/srv/remote-only"
WEB = b'name = "web"\ntype = "pvh"\nmemory = 512\n'


@pytest.fixture
def remote() -> Iterator[FakeRunner]:
    """A fake remote machine ``db1`` with its own paths (none of which exist here) as the current runner."""
    assert not os.path.lexists(REMOTE)
    fake = FakeRunner(host="db1")
    fake.paths = {REMOTE: "dir", f"{REMOTE}/dev": "dir", f"{REMOTE}/dev/luks.img": "file", "/dev/loop7": "block",
                  "/dev/sdz": "block"}
    with use_runner(fake):
        yield fake


class CommandRunner(FakeRunner):
    """A remote transport as the ssh runner is one: the generic ``Runner`` answers, by read-only commands."""

    name = "remote-test"
    path_kind = Runner.path_kind
    stat = Runner.stat
    realpath = Runner.realpath
    exists = Runner.exists
    same_path = Runner.same_path
    read_file = Runner.read_file
    list_dir = Runner.list_dir


class LocallyExecuted(Runner):
    """The generic (remote) answers, their commands executed on this machine: they must agree with LocalRunner's."""

    name = "remote-like"

    def _execute(self, argv: Any, data: Any, timeout: Any, *, readonly: bool, env: Any) -> Result:
        assert readonly
        return LocalRunner()._execute(argv, data, timeout, readonly=readonly, env=env)


# --- the runner's answers -------------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A directory with a file, a hidden file, odd names, a subdirectory, a good and a dangling symlink."""
    (tmp_path / "a.cfg").write_bytes(WEB)
    (tmp_path / ".hidden.cfg").write_bytes(b"x")
    (tmp_path / "two words; $(x)").write_bytes(b"")
    (tmp_path / "line\nbreak").write_bytes(b"")
    (tmp_path / "..dots").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a.cfg")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    return tmp_path


@pytest.mark.parametrize("runner", [LocalRunner(), LocallyExecuted()], ids=["local", "generic-commands"])
def test_runner_answers_agree_locally_and_by_command(runner: Runner, tree: Path) -> None:
    """exists (lexists semantics), read_file, list_dir and same_path: the kernel's answers and the commands' agree."""
    t = str(tree)
    assert runner.exists(f"{t}/a.cfg") and runner.exists(t) and runner.exists(f"{t}/dangling")
    assert not runner.exists(f"{t}/missing") and not runner.exists(f"{t}/a.cfg/below")
    assert runner.read_file(f"{t}/a.cfg") == WEB and runner.read_file(f"{t}/link") == WEB
    assert runner.read_file(f"{t}/a.cfg", max_bytes=len(WEB)) == WEB
    with pytest.raises(ValidationError, match=f"{t}/a.cfg: cannot read it: larger than 3 bytes"):
        runner.read_file(f"{t}/a.cfg", max_bytes=3)
    with pytest.raises(NotFoundError, match="cannot read it: No such file or directory"):
        runner.read_file(f"{t}/missing")
    with pytest.raises(ValidationError, match="cannot read it: Is a directory"):
        runner.read_file(f"{t}/sub")
    assert runner.list_dir(t) == sorted(["a.cfg", ".hidden.cfg", "two words; $(x)", "line\nbreak", "..dots", "sub",
                                         "link", "dangling"])
    assert runner.list_dir(f"{t}/sub") == []
    assert runner.list_dir(f"{t}/missing") is None and runner.list_dir(f"{t}/a.cfg") is None
    assert runner.same_path(f"{t}/link", f"{t}/a.cfg") and runner.same_path(f"{t}/a.cfg", f"{t}/a.cfg")
    assert not runner.same_path(f"{t}/a.cfg", f"{t}/sub")


def test_generic_answers_are_one_read_only_command_each() -> None:
    """What a remote transport (ssh) runs for each question: one read-only command, recorded like any other."""
    fake = CommandRunner()
    fake.expect(["stat", "-c", "%F", "--", "/srv/x"], "regular file\n")
    fake.expect(["stat", "-c", "%F", "--", "/srv/y"], stderr="stat: cannot statx '/srv/y': No such file or directory",
                returncode=1)
    fake.expect(["head", "-c", str(1024 * 1024 + 1), "--", "/srv/x"], b"data")
    fake.expect(["realpath", "-m", "-z", "--", "/dev/disk/by-id/d", "/dev/sdz"], b"/dev/sdz\0/dev/sdz\0")
    fake.expect(["sh", "-c", ...], b"b\0a\0")
    assert fake.exists("/srv/x") is True and fake.exists("/srv/y") is False
    assert fake.read_file("/srv/x") == b"data"
    assert fake.same_path("/dev/disk/by-id/d", "/dev/sdz") is True
    assert fake.list_dir("/srv") == ["a", "b"]
    assert [c[0] for c in fake.calls] == ["stat", "stat", "head", "realpath", "sh"]
    assert fake.calls[-1][-2:] == ("sh", "/srv")  # the path is an argument of the script, never part of it


def test_fake_runner_answers_from_its_tables_without_commands(remote: FakeRunner) -> None:
    """``paths``, ``links`` and ``contents`` describe the fake machine; nothing is asked of this one, no call is
    recorded."""
    remote.contents = {f"{REMOTE}/etc/web.cfg": WEB}
    remote.links = {"/dev/disk/by-id/remote-disk": "/dev/sdz", f"{REMOTE}/dangling": f"{REMOTE}/gone"}
    assert remote.read_file(f"{REMOTE}/etc/web.cfg") == WEB and remote.path_kind(f"{REMOTE}/etc/web.cfg") == "file"
    with pytest.raises(NotFoundError):
        remote.read_file(f"{REMOTE}/etc/other.cfg")
    assert remote.list_dir(f"{REMOTE}/etc") == ["web.cfg"]
    assert remote.list_dir(REMOTE) == ["dangling", "dev"] and remote.list_dir(f"{REMOTE}/none") is None
    assert remote.exists(f"{REMOTE}/dangling") and remote.path_kind(f"{REMOTE}/dangling") is None
    assert not remote.exists("/dev/mapper/control")  # exists on this machine, not on db1
    assert same_path("/dev/disk/by-id/remote-disk", "/dev/sdz") and not same_path("/dev/sdz", "/dev/loop7")
    assert remote.calls == []


def test_dry_run_asks_the_inner_runner(remote: FakeRunner) -> None:
    """A plan for db1 looks at db1's paths."""
    remote.contents = {f"{REMOTE}/f": b"x"}
    dry = DryRunRunner(remote)
    assert dry.exists(f"{REMOTE}/f") and dry.read_file(f"{REMOTE}/f") == b"x" and dry.list_dir(REMOTE) == ["dev", "f"]
    assert not dry.exists("/dev/mapper/control") and not dry.same_path("/dev/sdz", "/dev/loop7")


# --- the plugins ask the runner -------------------------------------------------------------------------------------


def test_crypt_open_looks_for_the_mapping_on_the_target(remote: FakeRunner) -> None:
    """``/dev/mapper/NAME`` is looked for where cryptsetup runs: refused when db1 has it, accepted when only this
    machine has it."""
    from pybofh_crypt import ops

    dev = f"{REMOTE}/dev/luks.img"
    remote.paths = {**(remote.paths or {}), "/dev/mapper/taken": "block"}
    with pytest.raises(ValidationError, match="/dev/mapper/taken already exists"):
        ops.open(dev, "taken", "pw")
    remote.expect(["cryptsetup", "open", ...]).expect(["cryptsetup", "isLuks", "--", dev], returncode=1)
    opened = ops.open(dev, "control", "pw")  # /dev/mapper/control exists here, not on db1
    assert opened.path == "/dev/mapper/control"
    assert ("cryptsetup", "open", "--type", "luks", "--key-file=-", "--", dev, "control") in remote.calls


def test_crypt_header_backup_file_is_checked_on_the_target(remote: FakeRunner) -> None:
    """The backup file must be new and its directory exist on db1."""
    from pybofh_crypt import ops

    dev = f"{REMOTE}/dev/luks.img"
    with use_runner(DryRunRunner(remote)):
        assert ops.header_backup(dev, f"{REMOTE}/hdr.img").file == f"{REMOTE}/hdr.img"
        with pytest.raises(ValidationError, match="already exists; cryptsetup will not overwrite it"):
            ops.header_backup(dev, f"{REMOTE}/dev/luks.img")
        with pytest.raises(NotFoundError, match=f"directory {REMOTE}/nowhere does not exist"):
            ops.header_backup(dev, f"{REMOTE}/nowhere/hdr.img")


def test_crypt_keys_are_found_and_matched_on_the_target(remote: FakeRunner) -> None:
    """Key files in ``crypt.key_dir`` are read by cryptsetup on db1, so they are looked for there; a provider for
    one device matches it through db1's symlinks."""
    from pybofh_crypt import keys
    from pybofh_crypt.errors import KeyNotFoundError
    from pybofh_crypt.types import KeyFile

    remote.paths = {**(remote.paths or {}), f"{REMOTE}/keys": "dir", f"{REMOTE}/keys/1234-abcd.key": "file"}
    with get_settings().override(crypt__key_dir=Path(f"{REMOTE}/keys")):
        assert keys.lookup("/dev/sdz", "1234-abcd") == KeyFile(f"{REMOTE}/keys/1234-abcd.key")
        with pytest.raises(KeyNotFoundError):
            keys.lookup("/dev/sdz", "5678-ef00")
    remote.links = {"/dev/disk/by-id/remote-disk": "/dev/sdz"}
    with keys.provide("pw", device="/dev/disk/by-id/remote-disk"):
        assert keys.lookup("/dev/sdz").reveal() == "pw"  # type: ignore[union-attr]
        with pytest.raises(KeyNotFoundError):
            keys.lookup("/dev/loop7")


def test_crypt_layer_reuses_a_mapping_open_over_the_same_device_on_the_target(remote: FakeRunner) -> None:
    """An open mapping is reused when its device resolves (on db1) to the layer's."""
    from pybofh_crypt import facts
    from pybofh_crypt.layers import LuksLayer
    from pybofh_crypt.types import CryptStatus

    remote.links = {"/dev/disk/by-id/remote-disk": "/dev/sdz"}
    layer = LuksLayer("/dev/disk/by-id/remote-disk", {}, name="data")
    status = CryptStatus.__new__(CryptStatus)
    object.__setattr__(status, "device", "/dev/sdz")
    object.__setattr__(status, "path", "/dev/mapper/data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(facts, "is_open", lambda name: True)
        mp.setattr(facts, "status", lambda name: status)
        assert layer.open() == "/dev/mapper/data"
        object.__setattr__(status, "device", "/dev/loop7")
        with pytest.raises(ValidationError, match="is open over /dev/loop7"):
            layer.open()


def test_xen_configs_are_listed_and_read_on_the_target(remote: FakeRunner) -> None:
    """domU configs are those of the dom0 xl runs on: its directories listed, its files read."""
    from pybofh_xen import facts

    etc = f"{REMOTE}/xen"
    remote.paths = {**(remote.paths or {}), etc: "dir", f"{etc}/auto.cfg": "dir"}
    remote.contents = {f"{etc}/web.cfg": WEB, f"{etc}/.db.cfg": b'name = "db"\n', f"{etc}/notes.txt": b"",
                       f"{etc}/BIG.CFG": b""}
    with get_settings().override(xen__domu_config_dirs=[Path(etc), Path(f"{REMOTE}/missing")]):
        assert facts.config_files() == [Path(f"{etc}/.db.cfg"), Path(f"{etc}/web.cfg")]
        assert [d.name for d in facts.all_domus()] == ["db", "web"]
        assert facts.read_domu_config(f"{etc}/web.cfg").name == "web"
    remote.contents[f"{etc}/huge.cfg"] = b"#" * (1024 * 1024 + 1)
    with pytest.raises(ValidationError, match=f"domU config {etc}/huge.cfg: cannot read it: larger than"):
        facts.read_domu_config(f"{etc}/huge.cfg")
    assert remote.calls == []


def test_xen_state_file_is_checked_on_the_target(remote: FakeRunner) -> None:
    """``xl save`` writes the state file on db1: it must be new there, in a directory of db1."""
    from pybofh_xen.ops import _state_file

    assert _state_file(f"{REMOTE}/web.save", must_exist=False) == f"{REMOTE}/web.save"
    with pytest.raises(ValidationError, match="already exists"):
        _state_file(f"{REMOTE}/dev/luks.img", must_exist=False)
    with pytest.raises(NotFoundError):
        _state_file(f"{REMOTE}/nowhere/web.save", must_exist=False)
    assert _state_file(f"{REMOTE}/dev/luks.img", must_exist=True) == f"{REMOTE}/dev/luks.img"


def test_btrfs_checks_ask_the_target(remote: FakeRunner) -> None:
    """New subvolume paths must be free on db1; the subvolume-root check stats db1's path."""
    from pybofh_btrfs.checks import check_new_path, is_subvolume_root
    from pybofh_btrfs.errors import SubvolumeNotFoundError

    assert check_new_path(f"{REMOTE}/snap", what="snapshot") == f"{REMOTE}/snap"
    with pytest.raises(ValidationError, match="already exists"):
        check_new_path(f"{REMOTE}/dev", what="snapshot")
    with pytest.raises(NotFoundError, match="parent directory"):
        check_new_path(f"{REMOTE}/nowhere/snap", what="snapshot")
    assert is_subvolume_root(REMOTE) is False
    with pytest.raises(SubvolumeNotFoundError):
        is_subvolume_root(f"{REMOTE}/nowhere")


def test_same_device_questions_resolve_on_the_target(remote: FakeRunner) -> None:
    """lvm's and blockdev's "same device?" checks and the loop-device checks resolve db1's symlinks."""
    from pybofh_blockdev import facts as bfacts
    from pybofh_blockdev.checks import check_loop_device
    from pybofh_blockdev.layers import LoopDeviceLayer, device_layer
    from pybofh_lvm import facts as lfacts

    remote.links = {"/dev/disk/by-id/remote-loop": "/dev/loop7", "/dev/disk/by-id/remote-disk": "/dev/sdz"}
    assert lfacts.same_device("/dev/disk/by-id/remote-disk", "/dev/sdz")
    assert not lfacts.same_device("/dev/disk/by-id/remote-disk", "/dev/loop7")
    assert bfacts._same("/dev/disk/by-id/remote-loop", "/dev/loop7")
    mount: Any = SimpleNamespace(device="/dev/sdz")
    assert bfacts.mounts_of("/dev/disk/by-id/remote-disk", [mount]) == [mount]
    assert check_loop_device("/dev/disk/by-id/remote-loop") == "/dev/disk/by-id/remote-loop"
    with pytest.raises(ValidationError, match="is not a /dev/loopN device"):
        check_loop_device("/dev/sdz")
    assert isinstance(device_layer("/dev/disk/by-id/remote-loop"), LoopDeviceLayer)
    assert remote.calls == []


def test_lvm_probe_matches_lv_paths_on_the_target(remote: FakeRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """``/dev/dm-3`` of db1 is an LV when it resolves, there, to the LV's path."""
    from pybofh_lvm import facts as lfacts
    from pybofh_lvm import layers

    lv = SimpleNamespace(path="/dev/vg0/data", mapper_path="/dev/mapper/vg0-data", vg="vg0")
    monkeypatch.setattr(lfacts, "list_lvs", lambda: [lv])
    monkeypatch.setattr(lfacts, "get_vg", lambda vg: SimpleNamespace(extent_size=4 * 1024**2))
    monkeypatch.setattr(layers, "LvLayer", lambda device, lv, extent: ("lv", device, extent))
    remote.paths = {**(remote.paths or {}), "/dev/dm-3": "block", "/dev/dm-4": "block"}
    remote.links = {"/dev/vg0/data": "/dev/dm-3", "/dev/mapper/vg0-data": "/dev/dm-3"}
    assert layers.probe_device("/dev/dm-3") == ("lv", "/dev/dm-3", 4 * 1024**2)
    assert layers.probe_device("/dev/dm-4") is None


# --- no local filesystem call under a remote runner -----------------------------------------------------------------


@contextlib.contextmanager
def local_fs_refused() -> Iterator[list[str]]:
    """Make every local filesystem question raise (and record it) inside the block; undone before anything
    propagates (pytest's own reporting reads files).

    Import machinery stats files too: every module a test uses is imported before the block.
    """
    for name in ("pybofh_blockdev.checks", "pybofh_blockdev.facts", "pybofh_blockdev.layers", "pybofh_btrfs.checks",
                 "pybofh_btrfs.errors", "pybofh_crypt.errors", "pybofh_crypt.keys", "pybofh_crypt.layers",
                 "pybofh_crypt.ops", "pybofh_crypt.types", "pybofh_lvm.facts", "pybofh_lvm.layers", "pybofh_xen.facts",
                 "pybofh_xen.ops", "pybofh_xen.xlcfg"):
        importlib.import_module(name)
    get_settings()  # settings files are this machine's and read once
    asked: list[str] = []

    def refuse(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            asked.append(f"{name}{args!r}")
            raise AssertionError(f"local filesystem asked: {name}{args!r}")

        return call

    mp = pytest.MonkeyPatch()
    try:
        for mod, names in ((os, ("stat", "lstat", "listdir", "scandir", "access", "readlink")),
                           (os.path, ("exists", "lexists", "isdir", "isfile", "islink", "realpath", "samefile"))):
            for name in names:
                mp.setattr(mod, name, refuse(f"{mod.__name__}.{name}"))
        for name in ("exists", "is_file", "is_dir", "read_bytes", "read_text", "glob", "iterdir", "stat", "resolve"):
            mp.setattr(pathlib.Path, name, refuse(f"Path.{name}"))
        mp.setattr(builtins, "open", refuse("open"))
        mp.setattr(io, "open", refuse("io.open"))
        yield asked
    finally:
        mp.undo()


def test_no_local_filesystem_call_under_a_remote_runner(remote: FakeRunner) -> None:
    """Every where-question of the plugins, asked under db1's runner, never touches this machine's filesystem."""
    from pybofh_blockdev import facts as bfacts
    from pybofh_blockdev.checks import check_loop_device
    from pybofh_blockdev.layers import device_layer
    from pybofh_btrfs.checks import check_new_path, is_subvolume_root
    from pybofh_crypt import keys, ops
    from pybofh_crypt.errors import KeyNotFoundError
    from pybofh_lvm import facts as lfacts
    from pybofh_xen import facts as xfacts
    from pybofh_xen.ops import _state_file

    etc = f"{REMOTE}/xen"
    remote.paths = {**(remote.paths or {}), etc: "dir", "/dev/mapper/taken": "block", f"{REMOTE}/keys": "dir"}
    remote.contents = {f"{etc}/web.cfg": WEB}
    remote.links = {"/dev/disk/by-id/remote-loop": "/dev/loop7"}
    with local_fs_refused() as asked:
        with pytest.raises(ValidationError, match="already exists"):
            ops.open(f"{REMOTE}/dev/luks.img", "taken", "pw")
        with use_runner(DryRunRunner(remote)):
            ops.header_backup(f"{REMOTE}/dev/luks.img", f"{REMOTE}/hdr.img")
        with get_settings().override(crypt__key_dir=Path(f"{REMOTE}/keys")), pytest.raises(KeyNotFoundError):
            keys.lookup("/dev/sdz", "1234-abcd")
        with get_settings().override(xen__domu_config_dirs=[Path(etc)]):
            assert [d.name for d in xfacts.all_domus()] == ["web"]
        _state_file(f"{REMOTE}/web.save", must_exist=False)
        check_new_path(f"{REMOTE}/snap", what="snapshot")
        assert is_subvolume_root(REMOTE) is False
        assert lfacts.same_device("/dev/disk/by-id/remote-loop", "/dev/loop7")
        assert bfacts._same("/dev/disk/by-id/remote-loop", "/dev/loop7")
        check_loop_device("/dev/disk/by-id/remote-loop")
        device_layer("/dev/disk/by-id/remote-loop")
    assert asked == []


def test_the_refusal_catches_a_local_question() -> None:
    """The block above would see a local question (and pytest can still report it)."""
    with pytest.raises(AssertionError, match="local filesystem asked"), local_fs_refused() as asked:
        os.path.lexists("/dev/mapper/control")
    assert asked == ["posixpath.lexists('/dev/mapper/control',)"]


# --- keeping it that way: the lint rule and what it cannot see ------------------------------------------------------

#: zero-argument ``pathlib.Path`` methods that look at the local filesystem (ruff's banned-api cannot see them:
#: they are called on instances)
PATH_QUESTIONS = {"exists", "is_file", "is_dir", "is_symlink", "is_block_device", "is_mount", "read_bytes",
                  "read_text", "iterdir", "resolve", "lstat", "stat"}
PATH_ALWAYS = {"glob", "rglob", "samefile"}
BANNED = {"os.path.exists", "os.path.lexists", "os.path.isdir", "os.path.isfile", "os.path.realpath", "os.stat",
          "os.lstat", "os.listdir", "os.scandir", "glob.glob"}


def plugin_modules() -> list[Path]:
    """The modules the rule covers: every plugin package's modules but CLI front ends and the ssh transport's."""
    return sorted(p for p in ROOT.glob("plugins/*/pybofh_*/*.py")
                  if not p.name.startswith("cli") and p.parent.name != "pybofh_ssh")


def local_questions(source: str) -> list[str]:
    """Calls in ``source`` that ask this machine's filesystem and that ruff's banned-api cannot catch."""
    tree = ast.parse(source)
    defines_open = any(isinstance(n, ast.FunctionDef) and n.name == "open" for n in tree.body)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and (
            func.attr in PATH_ALWAYS or (func.attr in PATH_QUESTIONS and not node.args and not node.keywords)
        ):
            found.append(f"line {node.lineno}: .{func.attr}()")
        elif isinstance(func, ast.Name) and func.id == "open" and not defines_open:
            found.append(f"line {node.lineno}: open()")
        elif isinstance(func, ast.Attribute) and func.attr == "open" and ast.unparse(func.value) in ("io", "builtins"):
            found.append(f"line {node.lineno}: {ast.unparse(func)}()")
    return found


def test_the_scan_finds_local_questions() -> None:
    """The meta-test below would see a regression (this is what the offenders looked like)."""
    bad = ("from pathlib import Path\n"
           "def f(d, x):\n"
           "    data = Path(x).read_bytes()\n"
           "    ok = d.is_dir() and any(p.is_file() for p in Path(d).glob('*.cfg'))\n"
           "    with open(x) as fh:\n"
           "        return fh, data, ok, (Path(d) / 'k').exists()\n")
    assert len(local_questions(bad)) == 6
    fine = "def f(r, p):\n    return r.exists(p) or r.stat(p) or layer.open() or r.read_file(p)\n"
    assert local_questions(fine) == []


def test_plugin_modules_ask_no_local_path_questions() -> None:
    """No plugin module asks ``pathlib`` or ``open`` about this machine's files (the runner answers instead)."""
    modules = plugin_modules()
    assert len(modules) > 20
    found = {str(p.relative_to(ROOT)): q for p in modules if (q := local_questions(p.read_text()))}
    assert found == {}


def test_ruff_bans_the_os_level_questions_in_plugin_modules() -> None:
    """ruff's TID251 (banned-api) refuses ``os.path.exists`` & co. in plugin modules; the ban stays configured."""
    config = tomllib.loads((ROOT / "ruff.toml").read_text())
    lint = config["lint"]
    assert "TID251" in lint["select"] or "TID" in lint["select"]
    assert BANNED <= set(lint["flake8-tidy-imports"]["banned-api"])
    ignored = lint["per-file-ignores"]
    assert ignored.get("!plugins/*/pybofh_*/*.py") == ["TID251"]
