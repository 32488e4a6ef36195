"""For real: an ext4 made with mkfs.ext4 on a loop device, mounted on a temp dir (``ext4_dir``; the shipped
``loop_factory`` unmounts and detaches it at teardown). Needs root; skipped with the reason otherwise."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pybofh_chattr import facts

from pybofh_core import Atomic
from pybofh_core.errors import IdentityMismatchError, RollbackError
from pybofh_core.testing import BofhCommand

pytestmark = pytest.mark.loopdev


class Boom(Exception):
    """The job's own failure, after its steps."""


def flags(path: Path) -> str:
    """lsattr's flag column for ``path``, read without pybofh."""
    out = subprocess.run(["lsattr", "-d", "--", str(path)], check=True, capture_output=True, text=True).stdout
    return out.split(" ", 1)[0]


def test_a_failed_block_clears_the_immutable_flag_it_set(ext4_dir: Path) -> None:
    precious = ext4_dir / "precious"
    precious.write_text("data\n")
    with pytest.raises(Boom), Atomic() as atomic:
        done = atomic.chattr.set_immutable(precious)  # a Path is passed on as its text
        assert done.changed and flags(precious)[4] == "i"
        with pytest.raises(PermissionError):
            precious.write_text("overwritten\n")  # immutable even for root
        raise Boom  # fails on purpose: the rollback must make it mutable again
    assert flags(precious)[4] == "-"
    precious.write_text("writable again\n")
    assert not facts.get_attributes(precious).immutable


def test_a_finished_block_keeps_the_flag(ext4_dir: Path) -> None:
    log = ext4_dir / "log"
    log.write_text("")
    with Atomic() as atomic:
        atomic.chattr.set_append_only(log)
    assert flags(log)[5] == "a"
    with pytest.raises(PermissionError):
        log.write_text("truncated\n")
    with log.open("a") as fh:
        fh.write("appended\n")
    with pytest.raises(Boom), Atomic() as atomic:
        atomic.chattr.clear_append_only(log)
        raise Boom
    assert flags(log)[5] == "a"  # the clear was undone
    subprocess.run(["chattr", "-a", "--", str(log)], check=True)


def test_the_undo_leaves_a_new_file_at_the_same_path_alone(ext4_dir: Path) -> None:
    path = ext4_dir / "f"
    path.write_text("old\n")
    with pytest.raises(RollbackError) as err, Atomic() as atomic:
        first = atomic.chattr.set_immutable(path)
        # By hand, outside pybofh: the file is replaced by a new one, made immutable by its owner. ext4 usually gives
        # the new file the freed inode number; its generation number tells them apart.
        subprocess.run(["chattr", "-i", "--", str(path)], check=True)
        path.unlink()
        path.write_text("new\n")
        subprocess.run(["chattr", "+i", "--", str(path)], check=True)
        raise Boom
    now = facts.get_attributes(path)
    assert now.immutable  # left alone
    assert now.generation != first.generation
    [mismatch] = err.value.exceptions
    assert isinstance(mismatch, IdentityMismatchError) and "left alone" in str(mismatch)
    assert isinstance(err.value.__cause__, Boom)
    subprocess.run(["chattr", "-i", "--", str(path)], check=True)


def test_bofh_chattr_show_and_immutable(bofh: BofhCommand, ext4_dir: Path) -> None:
    path = ext4_dir / "shown"
    path.write_text("")
    doc = json.loads(bofh.ok("--json", "chattr", "show", str(path)))
    assert doc["path"] == str(path) and doc["immutable"] is False and "extents" in doc["attributes"]
    assert doc["ino"] == path.stat().st_ino and doc["dev"] == path.stat().st_dev
    bofh.ok("chattr", "immutable", str(path))
    assert flags(path)[4] == "i"
    assert "immutable" in bofh.ok("chattr", "show", str(path))
    bofh.ok("chattr", "mutable", str(path))
    assert flags(path)[4] == "-"


def test_proc_has_no_attributes(bofh: BofhCommand) -> None:
    done = bofh("chattr", "show", "/proc/self/status")  # read-only: nothing here ever changes a system path
    assert done.code == 2 and "has no file attributes" in done.err


def test_a_tmpfs_without_generations_is_undone_by_device_and_inode(tmpfs_dir: Path) -> None:
    path = tmpfs_dir / "f"
    path.write_text("")
    with pytest.raises(Boom), Atomic() as atomic:
        done = atomic.chattr.set_immutable(path)
        assert done.generation is None and flags(path)[4] == "i"
        raise Boom
    assert flags(path)[4] == "-"
