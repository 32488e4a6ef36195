"""A dry run plans a whole LVM job on its planning model, and the plan is what the real run executes.

``Atomic(dry_run=True)`` of PV → VG → LV used to stop at ``create_lv`` ("volume group does not exist": the VG was
only planned). Now each planned step's effect is in the model (``pybofh_lvm.effects``), the later steps' checks and
sizes read the system with the model laid over it, and values known only after a run are placeholders
(``<uuid of LV vg/lv>``). On the host (no device-mapper: a dry run activates nothing) the plan is read; in the VM
test bed the same job then really runs, and its commands — and those of its rollback — equal the plan's,
argument by argument.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.model import Placeholder
from pybofh_core.testing import planned_undos, steps_of, undos_run
from pybofh_lvm import facts

MIB = 1024**2
VG = "pybofhplan"


def run_job(atomic: Atomic, device: str) -> Any:
    """The job: a PV on ``device``, a VG on it with 4 MiB extents, an LV of 32 MiB, an LV of half the free space."""
    pv = atomic.lvm.create_pv(device)
    atomic.lvm.create_vg(VG, [pv], extent_size="4M")
    atomic.lvm.create_lv(VG, "data", "32M")
    return atomic.lvm.create_lv(VG, "rest", "50%FREE")


@pytest.fixture
def device(loop_factory: Callable[..., str]) -> Iterator[str]:
    """A fresh 128 MiB loop device; whatever LVM state a test leaves on it is removed at teardown."""
    dev = loop_factory(128 * MIB)
    try:
        yield dev
    finally:
        subprocess.run(["vgchange", "--activate", "n", VG], capture_output=True)
        subprocess.run(["vgremove", "--yes", "--force", VG], capture_output=True)
        subprocess.run(["pvremove", "--yes", "--force", "--force", dev], capture_output=True)


def lvm_untouched(device: str) -> bool:
    """No PV label on ``device`` and no test VG, read with the real tools."""
    blkid = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True)
    vgs = subprocess.run(["vgs", "--noheadings", "-o", "vg_name"], capture_output=True, text=True)
    return blkid.stdout.strip() == "" and VG not in vgs.stdout.split()


@pytest.mark.loopdev
def test_a_dry_run_plans_the_whole_job_on_its_model(device: str) -> None:
    with Atomic(dry_run=True) as atomic:
        rest = run_job(atomic, device)
    assert steps_of(atomic) == [
        ("lvm.create_pv", [f"pvcreate -- {device}"]),
        ("lvm.create_vg", [f"vgcreate -s {4 * MIB}b -- {VG} {device}"]),
        ("lvm.create_lv", [f"lvcreate --yes -n data -L {32 * MIB}b -- {VG}"]),
        # 128 MiB less 1 MiB before the first extent: 31 extents; 8 of them to data; half of the 23 left, down: 11
        ("lvm.create_lv", [f"lvcreate --yes -n rest -L {11 * 4 * MIB}b -- {VG}"]),
    ]
    assert isinstance(rest.uuid, Placeholder) and rest.uuid == f"<uuid of LV {VG}/rest>"
    # the undos, planned newest first on the state the plan leaves, as a rollback runs them
    assert [(p["undo"], p["undo_commands"]) for p in atomic.plan][::-1] == [
        (f"lvm.remove_lv('{VG}', 'rest')", [f"lvremove --yes -- {VG}/rest"]),
        (f"lvm.remove_lv('{VG}', 'data')", [f"lvremove --yes -- {VG}/data"]),
        (f"lvm.remove_vg('{VG}', remove_pvs=[])", [f"vgremove -- {VG}"]),
        (f"lvm.remove_pv('{device}')", [f"pvremove -- {device}"]),
    ]
    assert lvm_untouched(device)
    assert facts.list_vgs() == [v for v in facts.list_vgs() if v.name != VG]  # no model outside the dry run


@pytest.mark.needs_dm
@pytest.mark.loopdev
def test_the_plan_is_what_the_run_and_its_rollback_execute(device: str) -> None:
    """Plan the job, run it for real, roll it back: the commands are the plan's, in order, argument by argument."""
    with Atomic(dry_run=True) as plan:
        run_job(plan, device)

    class Stop(Exception):
        pass

    with pytest.raises(Stop), Atomic() as real:
        run_job(real, device)
        assert facts.get_lv(VG, "rest").size_bytes == 11 * 4 * MIB
        ran = steps_of(real)  # the rollback empties the block's steps
        raise Stop
    assert ran == steps_of(plan) and len(ran) == 4
    assert undos_run(real) == planned_undos(plan) and len(undos_run(real)) == 4
    assert lvm_untouched(device)
