"""Every LVM operation and its inverse against the real tools and kernel, on loop devices backed by temp files.

Marked ``needs_dm``: the VM test bed (tests/vm) runs them inside its guest when the host kernel has no
device-mapper. Each test starts from loop devices with no LVM state and checks the exact state it leaves; the
``lvm_loops`` fixture removes whatever LVM state is left on its loops even when a test fails.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import CommandError, IrreversibleOperationError
from pybofh_core.runner import run
from pybofh_lvm import facts, ops
from pybofh_lvm.layers import LvLayer, probe_device
from pybofh_lvm.types import LvKind

# needs_dm: the VM test bed's pytest plugin runs these in its guest when this kernel has no device-mapper;
# vm_udev: and a second time in a guest with udev running, as on a production host.
pytestmark = [pytest.mark.needs_dm, pytest.mark.vm_udev, pytest.mark.loopdev]

MIB = 1024**2
VG = "pybofhtest"
LOOP_SIZE = 256 * MIB


def lvm_state(devices: list[str]) -> dict[str, object]:
    """What LVM knows about our devices and VG, read with the real tools (independent of the parsers' users)."""
    pvs = [p for p in facts.list_pvs() if any(facts.same_device(p.name, d) for d in devices)]
    return {
        "pvs": sorted((p.name, p.vg) for p in pvs),
        "vg": [v.name for v in facts.list_vgs() if v.name == VG],
        "lvs": sorted(lv.name for lv in facts.list_lvs(VG, include_hidden=True)),
    }


def blockdev_size(path: str) -> int:
    """The kernel's size of a block device, in bytes."""
    return int(subprocess.run(["blockdev", "--getsize64", path], check=True, capture_output=True, text=True).stdout)


@pytest.fixture
def lvm_loops(loop_factory: Callable[..., str]) -> Iterator[list[str]]:
    """Two fresh loop devices; at teardown (before they are detached) the test VG and PV labels are removed."""
    devs = [loop_factory(LOOP_SIZE), loop_factory(LOOP_SIZE)]
    try:
        yield devs
    finally:
        subprocess.run(["vgchange", "--activate", "n", VG], capture_output=True)
        subprocess.run(["vgremove", "--yes", "--force", VG], capture_output=True)
        for dev in devs:
            subprocess.run(["pvremove", "--yes", "--force", "--force", dev], capture_output=True)


@pytest.fixture
def vg(lvm_loops: list[str]) -> str:
    """The test VG on the first loop (4 MiB extents); the second loop stays free."""
    ops.create_pv(lvm_loops[0])
    ops.create_vg(VG, [lvm_loops[0]], extent_size="4M")
    return VG


def test_pv_and_vg_operations_and_their_inverses(lvm_loops: list[str]) -> None:
    a, b = lvm_loops
    clean = lvm_state(lvm_loops)
    assert clean == {"pvs": [], "vg": [], "lvs": []}
    pv = ops.create_pv(a)
    assert lvm_state(lvm_loops)["pvs"] == [(a, None)]
    vg = ops.create_vg(VG, [a])
    assert vg.initialized == ()
    ext = ops.extend_vg(VG, b)  # b is not a PV yet: LVM initialises it, the undo removes its label again
    assert ext.initialized and lvm_state(lvm_loops)["pvs"] == sorted([(a, VG), (b, VG)])
    assert facts.get_vg(VG).pv_count == 2
    ops.reduce_vg(VG, b, remove_pv=True)  # the inverse of extend_vg, as Atomic would call it
    assert lvm_state(lvm_loops)["pvs"] == [(a, VG)]
    res = ops.resize_pv(a, 128 * MIB)
    assert facts.get_pv(a).size_bytes == (128 * MIB - facts.get_pv(a).pe_start) // (4 * MIB) * 4 * MIB
    ops.resize_pv(a, res.old_size_bytes)
    assert facts.get_pv(a).size_bytes == (LOOP_SIZE - MIB) // (4 * MIB) * 4 * MIB
    ops.remove_vg(VG)
    ops.remove_pv(pv.device)
    assert lvm_state(lvm_loops) == clean


def test_create_vg_on_raw_devices_undo_leaves_them_clean(lvm_loops: list[str]) -> None:
    with pytest.raises(RuntimeError), Atomic() as atomic:
        made = atomic.lvm.create_vg(VG, lvm_loops)
        assert made.initialized == tuple(lvm_loops)
        raise RuntimeError("injected")
    assert lvm_state(lvm_loops) == {"pvs": [], "vg": [], "lvs": []}


def test_lv_create_resize_rename_activate_and_inverses(vg: str) -> None:
    lv = ops.create_lv(vg, "data", "64M")
    assert os.path.exists(lv.path) and blockdev_size(lv.path) == 64 * MIB
    got = facts.get_lv(vg, "data")
    assert (got.size_bytes, got.active, got.kind) == (64 * MIB, True, LvKind.NORMAL)
    assert os.path.realpath(lv.path) == os.path.realpath(lv.mapper_path)
    grown = ops.resize_lv(vg, "data", "96M")
    assert (grown.old_size_bytes, grown.new_size_bytes, blockdev_size(lv.path)) == (64 * MIB, 96 * MIB, 96 * MIB)
    ops.resize_lv(vg, "data", 32 * MIB)  # shrink (no content here), then back as the inverse would
    assert blockdev_size(lv.path) == 32 * MIB
    ops.resize_lv(vg, "data", grown.old_size_bytes)
    assert blockdev_size(lv.path) == 64 * MIB
    renamed = ops.rename_lv(vg, "data", "data2")
    assert os.path.exists(f"/dev/{vg}/data2") and not os.path.exists(f"/dev/{vg}/data")
    ops.rename_lv(vg, renamed.new_name, renamed.old_name)
    off = ops.deactivate_lv(vg, "data")
    assert off.changed and facts.get_lv(vg, "data").active is False and not os.path.exists(lv.mapper_path)
    assert ops.deactivate_lv(vg, "data").changed is False
    on = ops.activate_lv(vg, "data")
    assert on.changed and facts.get_lv(vg, "data").active is True and blockdev_size(lv.path) == 64 * MIB
    ops.remove_lv(vg, "data")
    assert facts.list_lvs(vg, include_hidden=True) == []
    assert not os.path.exists(lv.mapper_path)


def test_relative_and_percentage_sizes_with_the_real_lvm(vg: str) -> None:
    """``50%FREE`` at create, ``+8M`` and ``--shrink-by 4M`` (CLI) and ``+50%FREE`` on resize, each rounded down to
    whole 4 MiB extents; an off-grid absolute size only with ``--round``. Sizes checked with the kernel's own."""
    from pybofh_core.cli import main

    free = facts.get_vg(vg).free_bytes or 0
    lv = ops.create_lv(vg, "rel", "50%FREE")
    assert blockdev_size(lv.path) == (free // 2) // (4 * MIB) * (4 * MIB)
    start = blockdev_size(lv.path)
    ops.resize_lv(vg, "rel", "+8M")
    assert blockdev_size(lv.path) == start + 8 * MIB

    def bofh(*argv: str) -> int:
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
        return int(exc.value.code or 0)

    assert bofh("lvm", "lv", "resize", vg, "rel", "--shrink-by", "4M") == 0
    assert blockdev_size(lv.path) == start + 4 * MIB
    assert bofh("lvm", "lv", "resize", vg, "rel", str(start + 5 * MIB)) == 2  # not whole extents: nothing ran
    assert blockdev_size(lv.path) == start + 4 * MIB
    assert bofh("lvm", "lv", "resize", vg, "rel", str(start + 5 * MIB), "--round", "up") == 0
    assert blockdev_size(lv.path) == start + 8 * MIB
    free = facts.get_vg(vg).free_bytes or 0
    ops.resize_lv(vg, "rel", "+50%FREE")
    assert blockdev_size(lv.path) == start + 8 * MIB + (free // 2) // (4 * MIB) * (4 * MIB)
    ops.remove_lv(vg, "rel")


def test_snapshots_thin_pool_thin_lv_and_removal_restore_the_vg(vg: str) -> None:
    free_before = facts.get_vg(vg).free_count
    ops.create_lv(vg, "origin", "32M")
    with pytest.raises(RuntimeError), Atomic() as atomic:
        snap = atomic.lvm.snapshot_lv(vg, "origin", "origin-snap", "8M")
        assert facts.get_lv(vg, snap.name).kind is LvKind.SNAPSHOT
        pool = atomic.lvm.create_thin_pool(vg, "pool", "64M")
        thin = atomic.lvm.create_thin_lv(vg, pool.name, "thin1", "128M")
        assert blockdev_size(f"/dev/{vg}/thin1") == 128 * MIB
        thin_snap = atomic.lvm.snapshot_lv(vg, thin.name, "thin1-snap")
        got = facts.get_lv(vg, thin_snap.name)
        assert (got.kind, got.origin, got.pool) == (LvKind.THIN, "thin1", "pool")
        activated = atomic.lvm.activate_lv(vg, thin_snap.name)  # thin snapshots skip plain activation
        assert activated.changed and os.path.exists(f"/dev/{vg}/thin1-snap")
        raise RuntimeError("injected after the last step")
    assert sorted(lv.name for lv in facts.list_lvs(vg, include_hidden=True)) == ["origin"]
    ops.remove_lv(vg, "origin")
    assert facts.get_vg(vg).free_count == free_before


def test_seed_example_failing_filesystem_removes_the_lv(vg: str) -> None:
    """``atomic.lvm.createLV(...)`` then ``create_filesystem`` failing: the LV is gone afterwards."""
    path = f"/dev/{vg}/my_vm"
    with pytest.raises((CommandError, Exception)) as info, Atomic() as atomic:
        atomic.lvm.createLV(vg, "my_vm", "64M")
        assert os.path.exists(path)
        try:
            from pybofh import blockdevice

            create_filesystem = blockdevice.create_filesystem
        except (AttributeError, ImportError):
            create_filesystem = None
        if create_filesystem is not None:
            create_filesystem(path, "no-such-fstype")
        run(["mkfs.ext4", "-q", "-b", "3", path])  # an invalid block size: the real mkfs fails
    assert not isinstance(info.value, AssertionError)
    assert facts.list_lvs(vg, include_hidden=True) == []
    assert not os.path.exists(path)


# under udev, failing after the last step (every step undone) covers each undo; the others run in the plain guest
@pytest.mark.parametrize("fail_after", [*(pytest.param(n, marks=pytest.mark.vm_udev(False)) for n in (0, 1, 2)), 3])
def test_lvm_provisioning_job_rolls_back_at_every_step(lvm_loops: list[str], fail_after: int) -> None:
    """PV → VG → LV → (write data): a failure after each step leaves no PV, VG or LV behind."""
    a = lvm_loops[0]
    clean = lvm_state(lvm_loops)

    def step(n: int) -> None:
        if n == fail_after:
            raise RuntimeError(f"injected after step {n}")

    with pytest.raises(RuntimeError, match="injected"), Atomic() as atomic:
        step(0)
        atomic.lvm.create_pv(a)
        step(1)
        atomic.lvm.create_vg(VG, [a])
        step(2)
        lv = atomic.lvm.create_lv(VG, "job", "32M")
        with open(lv.path, "r+b") as fh:
            fh.write(b"pybofh" * 1000)
        step(3)
    assert lvm_state(lvm_loops) == clean


def test_irreversible_removal_is_refused_for_what_the_block_did_not_create(vg: str) -> None:
    ops.create_lv(vg, "keep", "8M")
    with pytest.raises(IrreversibleOperationError), Atomic() as atomic:
        atomic.lvm.remove_lv(vg, "keep")
    assert facts.get_lv(vg, "keep").active is True
    ops.remove_lv(vg, "keep")


def test_lv_as_a_layer_resizes_in_extents_and_keeps_data(vg: str) -> None:
    lv = ops.create_lv(vg, "layered", "16M")
    payload = os.urandom(4 * MIB)
    with open(lv.path, "r+b") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    for path in (lv.path, lv.mapper_path):
        layer = probe_device(path)
        assert isinstance(layer, LvLayer) and layer.granularity == 4 * MIB and layer.open() == path
    layer = probe_device(lv.path)
    assert layer is not None
    layer.resize(48 * MIB)
    assert blockdev_size(lv.path) == 48 * MIB
    layer.resize(16 * MIB)
    assert blockdev_size(lv.path) == 16 * MIB
    with open(lv.path, "rb") as fh:
        assert hashlib.sha256(fh.read(4 * MIB)).digest() == hashlib.sha256(payload).digest()
    ops.remove_lv(vg, "layered")
