"""A dry run never changes anything, through any code path.

Every CLI command of every installed plugin runs under ``bofh --dry-run``, and every registered operation inside
``Atomic(dry_run=True)``, against real loop devices (ext4, btrfs mounted, an empty one, a LUKS image file). The
runner beneath the dry-run recorder only lets through commands that are marked read-only *and* are read-only tools
(``lsblk``, ``blkid``, ``cryptsetup luksDump``…); anything else is recorded as a violation and not run. Writes to
the filesystem from Python (``open`` for writing, ``mkdir``, ``unlink``, temp files…) are violations too. After
each command the loop devices, mounts, device contents and journal directory are compared with before.
"""

from __future__ import annotations

import builtins
import hashlib
import inspect
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import typer

from pybofh_core.atomic import Atomic
from pybofh_core.cli import main
from pybofh_core.errors import PybofhError
from pybofh_core.runner import LocalRunner, Result, use_runner
from pybofh_core.secret import Secret
from pybofh_core.session import get_plugins

MIB = 1024**2
PW = "dry-run passphrase 1"

#: Tools that only read, with the argument that must be present when a tool also has writing modes.
READ_ONLY: dict[str, Any] = {
    "lsblk": True, "blkid": True, "findmnt": True, "dumpe2fs": True, "xfs_info": True, "find": True, "stat": True,
    "realpath": True, "cat": True, "head": True, "pvs": True, "vgs": True, "lvs": True,
    "swapon": ("--show", "--show=NAME"),
    "wipefs": ("--no-act", "-n"), "blockdev": ("--getsize64",), "resize2fs": ("-P",), "e2fsck": ("-n",),
    "xfs_db": ("-r",), "xfs_repair": ("-n",), "dd": True, "losetup": ("--list", "-j", "-l"), "xl": ("list", "info"),
    "lvm": ("fullreport", "version"), "sleep": False,
    "cryptsetup": ("luksDump", "status", "isLuks", "luksUUID", "--version", "--test-passphrase"),
    "drbdadm": ("status", "dump", "sh-resources", "sh-minor", "sh-dev", "sh-md-dev", "role", "cstate", "dstate",
                "--version", "dump-md"),
    "drbdsetup": ("status", "show", "events2"), "drbdmeta": ("dump-md",),
}
BTRFS_READ_ONLY = (("subvolume", "list"), ("subvolume", "show"), ("subvolume", "get-default"), ("filesystem", "show"),
                   ("filesystem", "df"), ("filesystem", "usage"), ("inspect-internal",), ("device", "usage"),
                   ("device", "stats"), ("scrub", "status"), ("balance", "status"), ("check", "--readonly"),
                   ("property", "get"), ("qgroup", "show"), ("--version",))


def is_read_only(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is a command that only reads (by tool, and by mode for tools that also write)."""
    tool, rest = os.path.basename(argv[0]), list(argv[1:])
    if tool == "btrfs":
        rest = rest[2:] if rest[:2] == ["--format", "json"] else rest
        return any(rest[: len(p)] == list(p) or (p[0] == "check" and "--readonly" in rest and rest[0] == "check")
                   for p in BTRFS_READ_ONLY)
    rule = READ_ONLY.get(tool)
    if rule is True:
        return True
    if not rule:
        return False
    return any(a in rule or a.split("=")[0] in rule for a in rest)


class StrictRunner(LocalRunner):
    """Beneath a dry run: read-only commands run for real, anything else is a violation and is not run."""

    def __init__(self) -> None:
        super().__init__()
        self.violations: list[str] = []

    def _execute(self, argv: tuple[str, ...], data: bytes | None, timeout: float, **kw: Any) -> Result:
        if not kw.get("readonly") or not is_read_only(argv):
            self.violations.append(f"ran {' '.join(argv)} (readonly={kw.get('readonly')})")
            return Result(argv, 1, b"", b"refused by the dry-run test")
        return super()._execute(argv, data, timeout, **kw)


class WriteGuard:
    """Python-level filesystem writes during a dry run are violations (recorded, then refused).

    Only this thread's: the VM test bed's background threads (running the guest batches meanwhile) write freely.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, violations: list[str]) -> None:
        self.violations = violations
        self.thread = threading.get_ident()
        real_open, real_os_open = builtins.open, os.open

        def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if self.guarded() and isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
                return self.refuse(f"open({file!r}, {mode!r})")
            return real_open(file, mode, *args, **kwargs)

        def guarded_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
            writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
            if self.guarded() and os.fspath(path) != os.devnull and flags & writes:
                return self.refuse(f"os.open({path!r}, {flags:#o})")
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(io, "open", guarded_open)
        monkeypatch.setattr(os, "open", guarded_os_open)
        for mod, names in ((os, ("mkdir", "makedirs", "rmdir", "remove", "unlink", "rename", "replace", "truncate",
                                 "symlink", "link", "chmod", "chown")),
                           (shutil, ("rmtree", "move", "copy", "copy2", "copyfile")),
                           (tempfile, ("mkdtemp", "mkstemp", "NamedTemporaryFile", "TemporaryDirectory"))):
            for name in names:
                monkeypatch.setattr(mod, name, self.refuser(f"{mod.__name__}.{name}", getattr(mod, name)))

    def guarded(self) -> bool:
        """Whether the calling thread is the one under test."""
        return threading.get_ident() == self.thread

    def refuse(self, what: str) -> Any:
        self.violations.append(f"wrote: {what}")
        raise PermissionError(f"dry run test: {what} refused")

    def refuser(self, what: str, real: Any) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            if not self.guarded():
                return real(*args, **kwargs)
            return self.refuse(f"{what}{args!r}")

        return refuse


def sh(*argv: str, input: bytes | None = None) -> str:
    """Set up or inspect real state (tests only)."""
    return subprocess.run(argv, check=True, capture_output=True, input=input).stdout.decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Real objects for the commands to look at: ext4 on a loop device (and its mountpoint, empty), btrfs mounted
    with a subvolume, an empty loop device, a LUKS2 image file, plain files and directories."""
    if os.geteuid() != 0:
        pytest.skip("loop devices need root")
    base = tmp_path_factory.mktemp("dryrun")
    loops: list[str] = []
    mounts: list[str] = []

    def loop(name: str, size: int) -> str:
        img = base / f"{name}.img"
        with img.open("wb") as fh:
            fh.truncate(size)
        loops.append(sh("losetup", "--find", "--show", str(img)).strip())
        return loops[-1]

    try:
        ext4 = loop("ext4", 64 * MIB)
        sh("mkfs.ext4", "-q", "-L", "dry", ext4)
        empty = loop("empty", 32 * MIB)
        btr = loop("btrfs", 200 * MIB)
        sh("mkfs.btrfs", "-q", btr)
        bmnt = base / "btrfs-mnt"
        bmnt.mkdir()
        sh("mount", "-o", "noatime", btr, str(bmnt))
        mounts.append(str(bmnt))
        sh("btrfs", "subvolume", "create", str(bmnt / "sub"))
        sh("btrfs", "subvolume", "snapshot", "-r", str(bmnt / "sub"), str(bmnt / "snap"))
        luks = base / "luks.img"
        with luks.open("wb") as fh:
            fh.truncate(32 * MIB)
        sh("cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
           "--pbkdf-force-iterations", "1000", "--key-file=-", str(luks), input=PW.encode())
        mnt = base / "mnt"
        mnt.mkdir()
        keyfile = base / "key"
        keyfile.write_text(PW)
        journal = base / "journal"
        journal.mkdir()
        yield {"ext4": ext4, "empty": empty, "btrfs": btr, "btrfs_mnt": str(bmnt), "sub": str(bmnt / "sub"),
               "snap": str(bmnt / "snap"), "luks": str(luks), "mnt": str(mnt), "key": str(keyfile),
               "base": str(base), "journal": str(journal)}
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        for dev in reversed(loops):
            subprocess.run(["losetup", "-d", dev], capture_output=True)


def snapshot(world: dict[str, str]) -> dict[str, Any]:
    """What a dry run must leave exactly as it was."""
    # the mounted btrfs's image changes by itself (background commits): its subvolumes are compared instead
    images = sorted(p for p in Path(world["base"]).glob("*.img") if p.name != "btrfs.img")
    base = world["base"]
    ours = (world["ext4"], world["empty"], world["btrfs"])
    return {  # only this test's objects: other jobs on the machine may attach and mount their own meanwhile
        "loops": sorted(" ".join(ln.split()) for ln in sh("losetup", "--list", "--noheadings", "-O",
                                                           "NAME,BACK-FILE,SIZELIMIT").splitlines() if base in ln),
        "mounts": sorted(ln for ln in sh("findmnt", "-rn", "-o", "TARGET,SOURCE,OPTIONS").splitlines()
                         if base in ln or (ln.split(" ")[1:2] and ln.split(" ")[1] in ours)),
        "images": {p.name: (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in images},
        # subvolumes by id, uuid and path (their generation moves with any write, a reader's atime included)
        "btrfs": re.sub(r"\bgen \d+ ", "", sh("btrfs", "subvolume", "list", "-u", world["btrfs_mnt"])),
        "journal": sorted(os.listdir(world["journal"])),
        "tmp": sorted(os.listdir(world["base"])),
    }


def _walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    subs = getattr(cmd, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from _walk(sub, [*path, name])
    else:
        yield path, cmd


def cli_commands() -> list[tuple[list[str], list[str]]]:
    """(command path, argument names) of every plugin CLI command."""
    out = []
    for name, entry in sorted(get_plugins().cli.entries.items()):
        for path, cmd in _walk(typer.main.get_command(entry.load()), [name]):
            out.append((path, [p.name for p in cmd.params if p.param_type_name == "argument"]))
    return out


def good_value(arg: str, path: list[str], world: dict[str, str]) -> str:
    """A valid value for argument ``arg`` of command ``path`` naming one of the real objects."""
    if path[0] == "crypt" and arg == "device":
        return world["luks"]
    if path[0] == "btrfs":
        return {"src": world["sub"], "dst": world["btrfs_mnt"] + "/new", "target_dir": world["btrfs_mnt"],
                "snapshot": world["snap"], "dest_dir": world["base"], "mountpoint": world["btrfs_mnt"],
                "subvolume": "5", "name": "rot"}.get(arg, world["sub"] if path[-1] in ("delete", "show") else
                                                     world["btrfs_mnt"])
    return {
        "device": world["ext4"], "devices": world["empty"], "mountpoint": world["mnt"], "target": world["mnt"],
        "size": "96M", "name": "drymap" if path[0] == "crypt" else "dryname", "vg": "dryvg", "new_name": "drynew",
        "origin": "dryorigin", "res": "r0", "resources": "r0", "domu": "drydomu", "file": world["base"] + "/hdr",
        "slot": "1",
    }.get(arg, "x")


def options_for(path: list[str], world: dict[str, str]) -> list[str]:
    """Options a command needs to run without prompting (key files, --yes)."""
    if path[0] != "crypt":
        return []
    return {"format": ["--key-file", world["key"], "--yes"], "open": ["--key-file", world["key"]],
            "resize": ["--key-file", world["key"]], "add-key": ["--key-file", world["key"], "--new-key-file",
                                                                  world["key"]],
            "test-key": ["--key-file", world["key"]], "remove-key": ["--yes"],
            "header-restore": ["--yes"]}.get(path[-1], [])


@pytest.mark.parametrize(("path", "args"), cli_commands(), ids=lambda x: " ".join(x) if x and isinstance(x, list)
                         and x and x[0] in get_plugins().cli.entries else None)
def test_every_cli_command_under_dry_run_changes_nothing(world: dict[str, str], path: list[str], args: list[str],
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``bofh --dry-run CMD …`` runs no command but read-only ones and writes nothing, whatever it answers."""
    monkeypatch.setenv("PYBOFH_JOURNAL_DIR", world["journal"])
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PW}\n" * 4))
    argv = ["--dry-run", *path, *options_for(path, world), "--", *(good_value(a, path, world) for a in args)]
    before = snapshot(world)
    runner = StrictRunner()
    WriteGuard(monkeypatch, runner.violations)
    with use_runner(runner), pytest.raises(SystemExit) as exit_info:
        main(argv)
    monkeypatch.undo()
    out = capsys.readouterr()
    assert runner.violations == [], f"bofh {' '.join(argv)}: {runner.violations}\n{out.err}"
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    assert exit_info.value.code in (0, 1, 2), out.err
    after = snapshot(world)
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def good_kwargs(func: Any, world: dict[str, str]) -> dict[str, Any]:
    """Valid arguments for an operation, naming the real objects (required parameters only)."""
    pool: dict[str, Any] = {
        "device": world["ext4"], "devices": [world["empty"]], "mountpoint": world["mnt"], "target": world["mnt"],
        "path": world["sub"], "src": world["sub"], "dst": world["btrfs_mnt"] + "/new", "snapshot": world["snap"],
        "target_dir": world["btrfs_mnt"], "dest_dir": world["base"], "stream_file": world["base"] + "/stream",
        "file": world["luks"], "size": "96M", "name": "dryname", "vg": "dryvg", "new_name": "drynew",
        "pool": "drypool", "origin": "dryorigin", "res": "r0", "domu": "drydomu", "label": "dry",
        "passphrase": Secret(PW), "new_passphrase": Secret(PW + "2"), "slot": 1, "keep": 1, "subvolume": 5,
        "disk": world["empty"], "fstype": "ext4", "config": world["base"] + "/domu.cfg", "state_file":
        world["base"] + "/state", "host": "otherhost", "vdev": "xvda",
    }
    out = {}
    for p in inspect.signature(func).parameters.values():
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            out[p.name] = pool.get(p.name, "x")
    return out


@pytest.mark.parametrize("qualname", sorted(s.qualname for s in get_plugins().operations.specs()))
def test_every_operation_in_a_dry_run_block_changes_nothing(world: dict[str, str], qualname: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Each registered operation inside ``Atomic(dry_run=True)``: only read-only commands run, nothing is written,
    and planning its undo changes nothing either."""
    func = get_plugins().operations.get(qualname)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    before = snapshot(world)
    runner = StrictRunner()
    WriteGuard(monkeypatch, runner.violations)
    try:
        with use_runner(runner), Atomic(dry_run=True, allow_irreversible=True) as atomic:
            atomic(func)(**good_kwargs(func, world))
    except PybofhError:
        pass  # refused (bad state for this operation here): the point is that nothing changed on the way
    finally:
        monkeypatch.undo()
    assert runner.violations == [], f"{qualname}: {runner.violations}"
    after = snapshot(world)
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
