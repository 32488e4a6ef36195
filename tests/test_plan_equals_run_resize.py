"""Plan equals execution for the stack resize (issue 15): an LV → LUKS (open under a name of the test's choosing, not
``luks-<UUID>``) → filesystem stack grown and shrunk with ``resize_stack``, planned with ``Atomic(dry_run=True)``,
then run for real and rolled back in the VM test bed.

For each filesystem the stack resize handles — ext4 grown and shrunk, btrfs grown and shrunk — the plan's commands
are the run's, in order and argument by argument, and the plan's undo commands are what the rollback runs.
Afterwards every layer has its old size again and the data is intact. xfs grows but cannot shrink: the rollback of
its grow keeps the xfs, and so the layers under it, grown (their shrinks back are refused by their data checks),
and the plan says so beforehand.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.testing import planned_undos, same_plan, steps_of, undos_run
from pybofh_crypt import keys

MIB = 1024**2
PW = "plan equals run resize passphrase"
FAST = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]

pytestmark = [pytest.mark.needs_dm, pytest.mark.loopdev]


def sh(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """A set-up or inspection command (tests only)."""
    return subprocess.run(argv, capture_output=True, text=True, check=check, input=input,
                          env={**os.environ, "LC_ALL": "C"})


def size_of(device: str) -> int:
    """A block device's size in bytes, read with the real tool."""
    return int(sh("blockdev", "--getsize64", device).stdout)


def fs_size(device: str, fstype: str, mnt: Path) -> int:
    """The filesystem's own size in bytes, read with its own tool (xfs and btrfs mounted on ``mnt`` for it)."""
    if fstype == "ext4":
        fields = dict(ln.split(":", 1) for ln in sh("dumpe2fs", "-h", device).stdout.splitlines() if ":" in ln)
        return int(fields["Block count"]) * int(fields["Block size"])
    sh("mount", device, str(mnt))
    try:
        if fstype == "xfs":
            info = sh("xfs_info", str(mnt)).stdout
            data = info[info.index("data "):].split()
            bsize = int(next(w for w in data if w.startswith("bsize=")).split("=")[1])
            blocks = int(next(w for w in data if w.startswith("blocks=")).split("=")[1].rstrip(","))
            return bsize * blocks
        out = sh("btrfs", "filesystem", "show", "--raw", str(mnt)).stdout
        return int(next(ln for ln in out.splitlines() if "devid" in ln).split()[3])
    finally:
        sh("umount", str(mnt))


def payload_hash(device: str, mnt: Path) -> str:
    """The hash of the payload file the set-up wrote into the filesystem."""
    sh("mount", device, str(mnt))
    try:
        return hashlib.sha256((mnt / "payload").read_bytes()).hexdigest()
    finally:
        sh("umount", str(mnt))


@pytest.fixture
def stack(loop_factory: Callable[..., str], tmp_path: Path) -> Iterator[Callable[[str, int], tuple[str, str]]]:
    """Make VG → LV of the given size → LUKS2 → open under a name of its own → a filesystem holding a 2 MiB payload
    (all left open, unmounted): returns (LV path, mapping path). Everything is taken down at teardown."""
    vg = f"pbpr{secrets.token_hex(3)}"
    mapping = f"planres-{secrets.token_hex(2)}"
    loop = loop_factory(768 * MIB)
    mnt = tmp_path / "mnt"
    mnt.mkdir()

    def make(fstype: str, lv_mib: int) -> tuple[str, str]:
        sh("vgcreate", vg, loop)
        sh("lvcreate", "--yes", "-n", "data", "-L", f"{lv_mib}m", vg)
        lv = f"/dev/{vg}/data"
        sh("cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", *FAST, "--key-file=-", lv, input=PW)
        sh("cryptsetup", "open", "--key-file=-", lv, mapping, input=PW)
        dev = f"/dev/mapper/{mapping}"
        sh({"ext4": "mkfs.ext4", "xfs": "mkfs.xfs", "btrfs": "mkfs.btrfs"}[fstype], "-q", dev)
        sh("mount", dev, str(mnt))
        (mnt / "payload").write_bytes(os.urandom(2 * MIB))
        sh("umount", str(mnt))
        return lv, dev

    try:
        yield make
    finally:
        sh("umount", "-l", str(mnt), check=False)
        sh("cryptsetup", "close", mapping, check=False)
        sh("vgchange", "--activate", "n", vg, check=False)
        sh("vgremove", "--yes", "--force", vg, check=False)
        sh("pvremove", "--yes", "--force", "--force", loop, check=False)


CASES = [  # (fstype, LV size in MiB, the size asked for)
    ("ext4", 96, "+32M"),
    ("ext4", 96, "-16M"),
    ("btrfs", 320, "+64M"),
    ("btrfs", 320, "-32M"),
]


class Stop(Exception):
    """Raised at the end of the real run, so its atomic block rolls it back."""


@pytest.mark.parametrize(("fstype", "lv_mib", "size"), CASES, ids=[f"{c[0]}{c[2]}" for c in CASES])
def test_a_stack_resize_runs_and_rolls_back_as_planned(stack: Callable[[str, int], tuple[str, str]], tmp_path: Path,
                                                       fstype: str, lv_mib: int, size: str) -> None:
    lv, dev = stack(fstype, lv_mib)
    mnt = tmp_path / "mnt"
    before = (size_of(lv), size_of(dev), fs_size(dev, fstype, mnt))
    digest = payload_hash(dev, mnt)

    with keys.provide(PW), Atomic(dry_run=True) as plan:  # cryptsetup resize of a LUKS2 keyring mapping asks
        plan.blockdev.resize_stack(lv, size)
    planned = steps_of(plan)
    layers = ["lvm.resize_lv", "crypt.resize", "blockdev.resize_filesystem"]
    assert [op for op, _ in planned] == [*(layers if size.startswith("+") else reversed(layers)),
                                         "blockdev.resize_stack"], planned
    planned_undo = planned_undos(plan)
    outcomes = [(s.spec.qualname, s.outcome) for s in plan.steps]  # why a planned undo has no commands
    assert (size_of(lv), size_of(dev), fs_size(dev, fstype, mnt)) == before  # the dry run changed nothing

    after: tuple[int, int, int] | None = None
    ran: list[tuple[str, list[str]]] = []
    with keys.provide(PW), pytest.raises(Stop), Atomic(journal=False) as real:
        real.blockdev.resize_stack(lv, size)
        ran = steps_of(real)
        after = (size_of(lv), size_of(dev), fs_size(dev, fstype, mnt))
        raise Stop
    assert same_plan(planned, ran), (planned, ran)
    assert same_plan(planned_undo, undos_run(real)), (planned_undo, undos_run(real), outcomes)
    assert after is not None and after != before and (after[0] > before[0]) == size.startswith("+")
    assert all(outcome.state == "undone" for _, outcome in real.outcomes), real.outcomes
    assert (size_of(lv), size_of(dev), fs_size(dev, fstype, mnt)) == before
    assert payload_hash(dev, mnt) == digest


def test_a_grown_xfs_keeps_the_stack_under_it_grown_in_the_plan_and_in_the_rollback(
        stack: Callable[[str, int], tuple[str, str]], tmp_path: Path) -> None:
    """xfs cannot shrink: the rollback of a stack grow says the xfs keeps its size, and the LUKS and LV shrinks
    back, run with their data checks, are refused rather than cutting the xfs off. The plan says the same."""
    from pybofh_core.errors import RollbackError, StepKeptError

    lv, dev = stack("xfs", 320)
    mnt = tmp_path / "mnt"
    digest = payload_hash(dev, mnt)
    with keys.provide(PW), Atomic(dry_run=True) as plan:
        plan.blockdev.resize_stack(lv, "+64M")
    planned = steps_of(plan)
    assert [op for op, _ in planned] == ["lvm.resize_lv", "crypt.resize", "blockdev.resize_filesystem",
                                         "blockdev.resize_stack"], planned
    assert [s.outcome.state if s.outcome else None for s in plan.steps] == ["failed", "failed", "failed", None]
    assert isinstance(plan.steps[2].outcome.error, StepKeptError) if plan.steps[2].outcome else False
    assert "would cut off data" in plan.steps[1].outcome.detail if plan.steps[1].outcome else False

    with keys.provide(PW), pytest.raises(RollbackError) as info, Atomic(journal=False) as real:
        real.blockdev.resize_stack(lv, "+64M")
        ran = steps_of(real)
        grown = (size_of(lv), size_of(dev), fs_size(dev, "xfs", mnt))
        raise Stop
    assert same_plan(planned, ran), (planned, ran)
    said = " ".join(str(e) for e in info.value.exceptions)
    assert "cannot shrink back" in said and "would cut off data" in said, said
    assert [(s.spec.qualname, o.state) for s, o in real.outcomes] == [
        ("blockdev.resize_filesystem", "failed"), ("crypt.resize", "failed"), ("lvm.resize_lv", "failed")]
    assert all(not o.commands for _, o in real.outcomes)
    assert (size_of(lv), size_of(dev), fs_size(dev, "xfs", mnt)) == grown
    assert payload_hash(dev, mnt) == digest
