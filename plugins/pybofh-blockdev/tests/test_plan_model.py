"""A dry run plans a whole filesystem job on its planning model, and the plan is what the real run executes.

A dry run of mkfs → mount → set_label used to stop at the label ("holds nothing blkid recognises": the filesystem
was only planned), and mkfs on an LV or LUKS mapping only planned stopped at once (blkid, wipefs and lsblk ran on a
device that does not exist yet). Now each planned step's effect is in the model (``pybofh_blockdev.effects``), the
facts and the core's data checks read it, and values known only after a run are placeholders (``<uuid of
filesystem on DEV>``, the loop device ``/dev/loop(next free, for FILE)``). On the host the plans are read and then
really run inside ``Atomic()`` and rolled back: the commands of the run and of its rollback are the plan's,
argument by argument; in the VM test bed (device-mapper) the same holds for PV → VG → LV → mkfs → mount.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pybofh_blockdev import facts
from pybofh_core.atomic import Atomic
from pybofh_core.errors import DataAtRiskError
from pybofh_core.model import BLOCK, Placeholder, PlannedDevice
from pybofh_core.runner import DryRunRunner, LocalRunner, use_runner
from pybofh_core.safety import inspect as inspect_content
from pybofh_core.testing import planned_undos, release_loop, same_plan, steps_of, undos_run

MIB = 1024**2
VG = "pybofhbdplan"

#: Placeholders as they appear inside a command: ``<…>``, and the path of a loop device taken with ``--find``.
class Stop(Exception):
    """Raised at the end of a real run, so its atomic block rolls it back."""


def fs_type(device: str) -> str:
    """The signature blkid finds on ``device`` ("" for none), read with the real tool."""
    res = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True)
    return res.stdout.strip()


def mounted_on(target: str) -> bool:
    """Whether anything is mounted on ``target``, read with the real tool."""
    return subprocess.run(["findmnt", "--mountpoint", target], capture_output=True).returncode == 0


def fs_job(atomic: Atomic, device: str, mnt: str) -> Any:
    """The job: ext4 labelled ``data`` on ``device``, mounted on ``mnt``, then relabelled ``renamed``."""
    fs = atomic.blockdev.create_filesystem(device, "ext4", label="data")
    atomic.blockdev.mount(fs, mnt)
    return atomic.blockdev.set_label(fs, "renamed")


@pytest.fixture
def mnt(tmp_path: Path) -> str:
    """An empty directory to mount on (symlinks resolved: a mount is made on the resolved path)."""
    path = tmp_path / "mnt"
    path.mkdir()
    return os.path.realpath(path)


@pytest.mark.loopdev
def test_a_dry_run_plans_mkfs_mount_and_label_on_its_model(loop_factory: Callable[..., str], mnt: str) -> None:
    device = loop_factory(64 * MIB)
    with Atomic(dry_run=True, allow_irreversible=True) as atomic:
        relabelled = fs_job(atomic, device, mnt)
    assert steps_of(atomic) == [
        ("blockdev.create_filesystem", [f"mkfs.ext4 -q -L data -- {device}"]),
        ("blockdev.mount", [f"mount -- {device} {mnt}"]),
        ("blockdev.set_label", [f"e2label {device} renamed"]),  # the label of a filesystem only planned
    ]
    assert (relabelled.fstype, relabelled.old, relabelled.new) == ("ext4", "data", "renamed")
    assert [(p["undo"], p["undo_commands"]) for p in atomic.plan if p["undo"]][::-1] == [
        (f"blockdev.set_label('{device}', 'data')", [f"e2label {device} data"]),
        (f"blockdev.unmount('{mnt}')", [f"umount -- {mnt}"]),
    ]
    assert atomic.plan[0]["undo"] is None and atomic.plan[0]["irreversible"]
    assert fs_type(device) == "" and not mounted_on(mnt)
    assert facts.probe(device) == {} and facts.mount_at(mnt) is None  # no model outside the dry run


@pytest.mark.loopdev
def test_the_plan_is_what_the_run_and_its_rollback_execute(loop_factory: Callable[..., str], mnt: str) -> None:
    """Plan the job, run it for real, roll it back: the commands are the plan's, in order, argument by argument."""
    device = loop_factory(64 * MIB)
    with Atomic(dry_run=True, allow_irreversible=True) as plan:
        fs_job(plan, device, mnt)
    with pytest.raises(Stop), Atomic(allow_irreversible=True) as real:
        fs_job(real, device, mnt)
        assert facts.probe(device)["LABEL"] == "renamed" and facts.mount_at(mnt) is not None
        ran = steps_of(real)  # (a rollback empties the block's steps)
        raise Stop
    assert same_plan(steps_of(plan), ran) and len(ran) == 3
    assert same_plan(planned_undos(plan), undos_run(real)) and len(undos_run(real)) == 2
    assert not mounted_on(mnt) and facts.probe(device)["LABEL"] == "data"  # mkfs itself is irreversible


@pytest.mark.loopdev
def test_a_loop_device_known_only_after_the_run_is_a_placeholder(tmp_path: Path, mnt: str) -> None:
    """attach_loop → mkfs → mount: the loop device is ``/dev/loop(next free, for FILE)`` in the plan, a block
    device of the file's size that later steps use; the real run's /dev/loopN takes its place argument by argument."""
    image = tmp_path / "disk.img"
    image.write_bytes(b"")
    os.truncate(image, 32 * MIB)

    def job(atomic: Atomic) -> str:
        loop = atomic.blockdev.attach_loop(str(image))
        atomic.blockdev.create_filesystem(loop, "ext4")
        atomic.blockdev.mount(loop, mnt)
        return loop.path

    with Atomic(dry_run=True) as plan:
        path = job(plan)
    assert isinstance(path, Placeholder) and path == f"/dev/loop(next free, for {image})"
    assert steps_of(plan) == [
        ("blockdev.attach_loop", [f"losetup --show --find -- {image}"]),
        ("blockdev.create_filesystem", [f"mkfs.ext4 -q -- {path}"]),
        ("blockdev.mount", [f"mount -- {path} {mnt}"]),
    ]
    assert planned_undos(plan) == [("blockdev.mount", [f"umount -- {mnt}"]),  # (the steps the undos belong to)
                                   ("blockdev.attach_loop", [f"losetup --detach {path}"])]
    try:
        with pytest.raises(Stop), Atomic() as real:
            job(real)
            ran = steps_of(real)
            raise Stop
        assert same_plan(steps_of(plan), ran) and len(ran) == 3
        assert same_plan(planned_undos(plan), undos_run(real))
        assert not same_plan([("m", [f"mkfs.ext4 -q -- {path}"])], [("m", ["mkfs.ext4 -q -F -- /dev/loop0"])])
    finally:
        attached = subprocess.run(["losetup", "--list", "-n", "-O", "NAME", "-j", str(image)], capture_output=True,
                                  text=True)
        for dev in attached.stdout.split():
            release_loop(dev)
    assert not mounted_on(mnt) and attached.stdout.split() == []


def test_the_data_checks_answer_for_a_planned_device_from_the_model(mnt: str) -> None:
    """A device only a planned step made (an LV, a LUKS mapping) does not exist: mkfs's data check, mkfs and a mount
    plan on it without asking wipefs, lsblk or blkid about it (they would fail), and a second mkfs is refused for the
    planned filesystem — with real tools beneath the dry run, not fakes."""
    device = "/dev/pybofh-planned/lv0"
    dry = DryRunRunner(LocalRunner())
    dry.model.put(BLOCK, device, PlannedDevice(device, 64 * MIB))
    with use_runner(dry):
        assert inspect_content(device).empty and facts.get_size(device) == 64 * MIB
        with Atomic(dry_run=True, allow_irreversible=True) as atomic:
            fs = atomic.blockdev.create_filesystem(device, "xfs", label="web")
            atomic.blockdev.mount(fs, mnt, ["noatime"])
        assert fs.uuid == f"<uuid of filesystem on {device}>"
        assert facts.probe(device) == {"TYPE": "xfs", "USAGE": "filesystem", "UUID": fs.uuid, "LABEL": "web"}
        assert facts.get_device(device).fstype == "xfs" and facts.get_device(device).mountpoints == (mnt,)
        assert [m.source for m in facts.mounts_of(device)] == [device]
        content = inspect_content(device)
        assert [(s.type, s.uuid) for s in content.signatures] == [("xfs", fs.uuid)]
        with pytest.raises(DataAtRiskError, match="already contains xfs"), Atomic(dry_run=True,
                                                                                  allow_irreversible=True) as again:
            again.blockdev.create_filesystem(device, "ext4")
    assert [str(c) for c in dry.plan] == [f"mkfs.xfs -q -L web -- {device}", f"mount -o noatime -- {device} {mnt}"]


# --- in the VM test bed: LVM, then a filesystem on the LV -------------------------------------------------------------


@pytest.fixture
def pv_device(loop_factory: Callable[..., str]) -> Iterator[str]:
    """A fresh 128 MiB loop device; whatever LVM state a test leaves on it is removed at teardown."""
    dev = loop_factory(128 * MIB)
    try:
        yield dev
    finally:
        subprocess.run(["umount", "-l", f"/dev/{VG}/data"], capture_output=True)
        subprocess.run(["vgchange", "--activate", "n", VG], capture_output=True)
        subprocess.run(["vgremove", "--yes", "--force", VG], capture_output=True)
        subprocess.run(["pvremove", "--yes", "--force", "--force", dev], capture_output=True)


def lvm_fs_job(atomic: Atomic, device: str, mnt: str) -> Any:
    """PV → VG → LV of 32 MiB → ext4 on the LV → mounted on ``mnt``."""
    pv = atomic.lvm.create_pv(device)
    atomic.lvm.create_vg(VG, [pv], extent_size="4M")
    lv = atomic.lvm.create_lv(VG, "data", "32M")
    fs = atomic.blockdev.create_filesystem(lv, "ext4", label="data")
    return atomic.blockdev.mount(fs, mnt)


@pytest.mark.needs_dm
@pytest.mark.loopdev
def test_a_filesystem_on_a_planned_lv_is_planned_and_is_what_runs(pv_device: str, mnt: str) -> None:
    """The dry run plans every step (it stopped at the mount: blkid on the planned LV), and the real run and its
    rollback run the plan's commands."""
    lv = f"/dev/{VG}/data"
    with Atomic(dry_run=True) as plan:
        lvm_fs_job(plan, pv_device, mnt)
    assert steps_of(plan)[3:] == [
        ("blockdev.create_filesystem", [f"mkfs.ext4 -q -L data -- {lv}"]),
        ("blockdev.mount", [f"mount -- {lv} {mnt}"]),
    ]
    assert [op for op, _ in planned_undos(plan)] == ["blockdev.mount", "lvm.create_lv", "lvm.create_vg",
                                                     "lvm.create_pv"]
    assert planned_undos(plan)[0] == ("blockdev.mount", [f"umount -- {mnt}"])
    assert fs_type(pv_device) == "" and not mounted_on(mnt)

    with pytest.raises(Stop), Atomic() as real:
        lvm_fs_job(real, pv_device, mnt)
        assert facts.mount_at(mnt) is not None and facts.probe(lv)["TYPE"] == "ext4"
        ran = steps_of(real)  # (a rollback empties the block's steps)
        raise Stop
    assert same_plan(steps_of(plan), ran) and len(ran) == 5
    assert same_plan(planned_undos(plan), undos_run(real))
    assert all(outcome.state == "undone" for _, outcome in real.outcomes)
    assert fs_type(pv_device) == "" and not mounted_on(mnt)
