"""Plan equals execution for the whole provisioning stack (issue 15): PV → VG → LV → LUKS format → open → mkfs →
mount, planned with ``Atomic(dry_run=True)``, then run for real and rolled back in the VM test bed.

The plan's commands are the run's, in order and argument by argument, and the plan's undo commands are what the
rollback runs, newest first; a placeholder in the plan (``<uuid of LUKS on …>``) stands for the value the run found.
Each plugin's own part is tested in its ``tests/test_plan_model.py``; this is the job across four of them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.testing import planned_undos, same_plan, steps_of, undos_run

MIB = 1024**2
VG = "pybofhstack"
MAPPING = "pybofhstackc"
PW = "plan equals run passphrase"


def job(atomic: Atomic, device: str, mountpoint: Path) -> None:
    """The stack, one step per layer."""
    pv = atomic.lvm.create_pv(device)
    atomic.lvm.create_vg(VG, [pv])
    lv = atomic.lvm.create_lv(VG, "data", "64M")
    atomic.crypt.format(lv.path, PW)
    mapped = atomic.crypt.open(lv.path, MAPPING, PW)
    atomic.blockdev.create_filesystem(mapped.path, "ext4")
    atomic.blockdev.mount(mapped.path, str(mountpoint))


@pytest.fixture
def device(loop_factory: Callable[..., str]) -> Iterator[str]:
    """A fresh 256 MiB loop device; the stack on it is taken down at teardown whatever the test left."""
    dev = loop_factory(256 * MIB)
    try:
        yield dev
    finally:
        subprocess.run(["umount", "-l", f"/dev/mapper/{MAPPING}"], capture_output=True)
        subprocess.run(["cryptsetup", "close", MAPPING], capture_output=True)
        subprocess.run(["vgchange", "--activate", "n", VG], capture_output=True)
        subprocess.run(["vgremove", "--yes", "--force", VG], capture_output=True)
        subprocess.run(["pvremove", "--yes", "--force", "--force", dev], capture_output=True)


@pytest.mark.needs_dm
@pytest.mark.loopdev
def test_the_stack_is_planned_whole_and_run_and_rolled_back_as_planned(device: str, tmp_path: Path) -> None:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    with Atomic(dry_run=True) as plan:
        job(plan, device, mountpoint)
    planned = steps_of(plan)
    assert [op for op, _ in planned] == ["lvm.create_pv", "lvm.create_vg", "lvm.create_lv", "crypt.format",
                                         "crypt.open", "blockdev.create_filesystem", "blockdev.mount"]
    assert all(cmds for _, cmds in planned), planned
    planned_undo = planned_undos(plan)

    class Stop(Exception):
        pass

    ran: list[tuple[str, list[str]]] = []
    with pytest.raises(Stop), Atomic() as real:
        job(real, device, mountpoint)
        ran = steps_of(real)
        raise Stop
    assert same_plan(planned, ran), (planned, ran)
    assert same_plan(planned_undo, undos_run(real)), (planned_undo, undos_run(real))
    assert all(outcome.state == "undone" for _, outcome in real.outcomes)
    vgs = subprocess.run(["vgs", "--noheadings", "-o", "vg_name"], capture_output=True, text=True).stdout.split()
    assert VG not in vgs and not Path(f"/dev/mapper/{MAPPING}").exists()
