"""Every operation for real on loop devices backed by temp files; assertions on the real state (findmnt, losetup,
blkid, lsblk). Everything made here is unmounted and detached at teardown, also when a test fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_blockdev import facts, ops
from pybofh_blockdev.layers import BlockDeviceStack
from pybofh_blockdev.mountpool import Mounted, MountPool
from pybofh_blockdev.ops import resize_stack
from pybofh_core.atomic import Atomic
from pybofh_core.errors import CommandError, DataAtRiskError, ValidationError
from pybofh_core.runner import LocalRunner, use_runner

pytestmark = pytest.mark.loopdev
MiB = 1024**2


def sh(*argv: str) -> str:
    """Run a command for set-up or inspection (tests may use subprocess; the plugin never does)."""
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


def mounted_targets() -> set[str]:
    """Every mount target, from findmnt."""
    doc = json.loads(sh("findmnt", "-J", "-l", "-o", "TARGET"))
    return {fs["target"] for fs in doc["filesystems"]}


def loops_backed_by(base: Path) -> list[str]:
    """Loop devices whose backing file lies under ``base``."""
    doc = json.loads(sh("losetup", "--list", "--json", "-O", "NAME,BACK-FILE") or '{"loopdevices": []}')
    return [d["name"] for d in doc["loopdevices"] if (d.get("back-file") or "").startswith(str(base))]


@pytest.fixture
def area(tmp_path: Path) -> Iterator[Path]:
    """A temp dir whose mounts and loop devices (however made) are removed at teardown, even on failure."""
    yield tmp_path
    for target in sorted((t for t in mounted_targets() if t.startswith(str(tmp_path))), reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)
    for dev in loops_backed_by(tmp_path):
        subprocess.run(["partx", "-d", dev], capture_output=True)  # partx-added partitions outlive a detach
        subprocess.run(["losetup", "-d", dev], capture_output=True)
    assert not loops_backed_by(tmp_path), "a loop device of this test survived cleanup"


def image(area: Path, name: str, size: int) -> str:
    """A sparse file of ``size`` bytes."""
    path = area / name
    with path.open("wb") as fh:
        fh.truncate(size)
    return str(path)


def file_hash(path: Path) -> str:
    """SHA-256 of a file's content."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class CountingRunner(LocalRunner):
    """The local runner, counting commands (the device listing must not run one per device)."""

    def __init__(self) -> None:
        super().__init__()
        self.argvs: list[tuple[str, ...]] = []

    def _execute(self, argv, data, timeout, *, readonly, env):  # type: ignore[no-untyped-def]
        self.argvs.append(argv)
        return super()._execute(argv, data, timeout, readonly=readonly, env=env)


# --- loops, mkfs, probe, listing ------------------------------------------------------------------------------------


def test_attach_and_detach_loop(area: Path) -> None:
    """attach_loop gives a /dev/loopN backed by the file; detach_loop removes it."""
    img = image(area, "a.img", 32 * MiB)
    loop = ops.attach_loop(img)
    assert loops_backed_by(area) == [loop.path] and facts.get_size(loop.path) == 32 * MiB
    assert facts.get_loop(loop.path).backing_file == img
    ops.detach_loop(loop.path)
    assert loops_backed_by(area) == []


@pytest.mark.parametrize(
    ("fstype", "size", "label"),
    [("ext4", 64 * MiB, "my disk"), ("xfs", 320 * MiB, "xlabel"), ("btrfs", 128 * MiB, "pool"),
     ("swap", 32 * MiB, "swap1"), ("ext4", 64 * MiB, "données")],
)
def test_create_filesystem_probe_and_listing(area: Path, fstype: str, size: int, label: str) -> None:
    """mkfs for real; blkid -p sees type and label; the udev-less listing is filled from one blkid call."""
    loop = ops.attach_loop(image(area, "fs.img", size)).path
    ops.create_filesystem(loop, fstype, label=label)
    found = facts.probe(loop)
    assert (found["TYPE"], found["LABEL"]) == (fstype, label)
    counting = CountingRunner()
    with use_runner(counting):
        dev = facts.list_devices().get(loop)
    assert (dev.fstype, dev.label, dev.uuid, dev.size) == (fstype, label, found["UUID"], size)
    assert [a[0] for a in counting.argvs] in (["lsblk", "blkid"], ["lsblk"])
    with pytest.raises(ValidationError, match="already contains"):
        ops.create_filesystem(loop, "ext4")
    ops.create_filesystem(loop, "ext4", force=True)
    assert facts.probe(loop)["TYPE"] == "ext4"


def test_listing_runs_two_commands_whatever_the_number_of_devices(loop_factory) -> None:
    """Eight formatted loops or one: lsblk once, blkid once."""
    counts = []
    for n in (1, 8):
        loops = [loop_factory(8 * MiB) for _ in range(n)]
        for dev in loops:
            sh("mkfs.ext4", "-q", dev)
        counting = CountingRunner()
        with use_runner(counting):
            tree = facts.list_devices()
        assert all(tree.get(dev).fstype == "ext4" for dev in loops)
        counts.append([a[0] for a in counting.argvs])
    assert counts[0] == counts[1] == ["lsblk", "blkid"]


def test_labels_that_are_not_utf8_round_trip(loop_factory) -> None:
    """A Latin-1 label and a literal ``M-`` label come back byte for byte; one extra blkid call, for both."""
    latin1, literal = loop_factory(16 * MiB), loop_factory(16 * MiB)
    for dev, label in ((latin1, b"Donn\xe9es"), (literal, b"SYSTEM-A")):
        sh("mkfs.ext4", "-q", dev)
        subprocess.run([b"e2label", dev.encode(), label], check=True, capture_output=True)
    counting = CountingRunner()
    with use_runner(counting):
        tree = facts.list_devices()
    assert tree.get(latin1).label_bytes == b"Donn\xe9es" and tree.get(latin1).label == "Donn\ufffdes"
    assert tree.get(literal).label_bytes == b"SYSTEM-A" and tree.get(literal).label_raw is None
    assert [a[0] for a in counting.argvs] == ["lsblk", "blkid", "blkid"]
    assert counting.argvs[-1][-2:] == (latin1, literal)


def test_partitioned_loop_tree(loop_factory) -> None:
    """A GPT-partitioned loop lists its partitions as children, each with the filesystem blkid finds."""
    dev = loop_factory(64 * MiB)
    subprocess.run(["sfdisk", "-q", dev], input=b"label: gpt\n,24M,L\n,,S\n", check=True, capture_output=True)
    sh("losetup", "-c", dev)
    subprocess.run(["partx", "-u", dev], capture_output=True)
    if not Path(f"{dev}p2").exists():
        subprocess.run(["partx", "-a", dev], capture_output=True)
    sh("mkfs.ext4", "-q", "-L", "p1", f"{dev}p1")
    sh("mkswap", "-L", "p2", f"{dev}p2")
    tree = facts.list_devices()
    disk = tree.get(dev)
    assert disk.children == (f"{dev}p1", f"{dev}p2") and disk.pttype == "gpt"
    p1, p2 = tree.get(f"{dev}p1"), tree.get(f"{dev}p2")
    assert (p1.type, p1.fstype, p1.label, p1.parents) == ("part", "ext4", "p1", (dev,))
    assert (p2.fstype, p2.label) == ("swap", "p2")


# --- mounts and MountPool -------------------------------------------------------------------------------------------


def test_mount_unmount_and_busy_mountpoint(area: Path) -> None:
    """mount/unmount for real (findmnt confirms); a busy mountpoint and a mounted mkfs target are refused."""
    loop = ops.attach_loop(image(area, "m.img", 32 * MiB)).path
    other = ops.attach_loop(image(area, "o.img", 32 * MiB)).path
    ops.create_filesystem(loop)
    ops.create_filesystem(other)
    mp = area / "mnt point"
    mp.mkdir()
    m = ops.mount(loop, str(mp), ["noatime"])
    assert str(mp) in mounted_targets() and facts.is_mounted(loop) and facts.is_mounted(str(mp))
    assert m.target == str(mp)
    with pytest.raises(ValidationError, match="busy"):
        ops.mount(other, str(mp))
    with pytest.raises(ValidationError, match="mounted"):
        ops.create_filesystem(loop, force=True)
    with pytest.raises(ValidationError, match="mounted"):
        ops.detach_loop(loop)
    done = ops.unmount(loop)  # by device: mounted once
    assert done.target == str(mp) and "noatime" in done.options
    assert str(mp) not in mounted_targets()


def test_mounted_context_manager_uses_and_removes_a_temp_dir(area: Path) -> None:
    """Mounted(dev) mounts on a fresh temp dir and removes it afterwards."""
    loop = ops.attach_loop(image(area, "c.img", 32 * MiB)).path
    ops.create_filesystem(loop)
    with Mounted(loop) as mp:
        assert mp in mounted_targets()
        Path(mp, "hello").write_text("hi")
    assert mp not in mounted_targets() and not os.path.exists(mp)


def test_seed_mountpool_example(area: Path) -> None:
    """The seed README: two nested mounts from a pool of two; the third fails; everything unmounted after."""
    from pybofh import blockdevice

    devs = []
    for i in range(3):
        loop = ops.attach_loop(image(area, f"p{i}.img", 16 * MiB)).path
        ops.create_filesystem(loop)
        devs.append(loop)
    tmp_mnts = [str(area / "media" / "tmp"), str(area / "media" / "tmp2")]
    mountpool = blockdevice.MountPool(tmp_mnts)
    with mountpool.mount(devs[0]) as first:
        assert first in mounted_targets()
        with mountpool.mount(devs[1]) as second:
            assert {first, second} == set(tmp_mnts) and second in mounted_targets()
            with pytest.raises(blockdevice.MountPoolExhaustedError), mountpool.mount(devs[2]):
                pass
    assert not set(tmp_mnts) & mounted_targets()


def test_mountpool_failed_mount_returns_the_slot(area: Path) -> None:
    """A mount that fails (nothing to mount on an empty device) frees its slot for the next mount."""
    empty = ops.attach_loop(image(area, "e.img", 16 * MiB)).path
    good = ops.attach_loop(image(area, "g.img", 16 * MiB)).path
    ops.create_filesystem(good)
    pool = MountPool([str(area / "only-slot")])
    with pytest.raises(CommandError), pool.mount(empty):
        pass
    with pool.mount(good) as mp:
        assert mp == str(area / "only-slot")


def test_mountpool_slots_are_locked_across_processes(area: Path) -> None:
    """A slot held by another process (its flock) is skipped; when that process dies the slot is free again."""
    loop = ops.attach_loop(image(area, "x.img", 16 * MiB)).path
    ops.create_filesystem(loop)
    slots = [str(area / "s1"), str(area / "s2")]
    pool = MountPool(slots)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import fcntl, os, sys, time
            from pybofh_blockdev.mountpool import MountPool
            pool = MountPool({slots!r}, lock_dir={str(pool.lock_dir)!r})
            slot, fd = pool._claim()
            print(slot, flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        held = holder.stdout.readline().strip()  # type: ignore[union-attr]
        assert held == slots[0]
        with pool.mount(loop) as mp:
            assert mp == slots[1]
    finally:
        holder.kill()
        holder.wait()
    with pool.mount(loop) as mp:
        assert mp == slots[0]


# --- labels, UUIDs, checks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fstype", "size"), [("ext4", 32 * MiB), ("xfs", 320 * MiB), ("btrfs", 128 * MiB),
                                              ("swap", 16 * MiB)])
def test_set_label_and_uuid_and_back(area: Path, fstype: str, size: int) -> None:
    """Labels and UUIDs change for real, and the declared undo puts the old ones back."""
    from pybofh_core.operations import spec_of

    loop = ops.attach_loop(image(area, "l.img", size)).path
    ops.create_filesystem(loop, fstype, label="old")
    before = facts.probe(loop)
    res = ops.set_label(loop, "new")
    assert facts.probe(loop)["LABEL"] == "new"
    spec_of(ops.set_label).undo_for(res, {})()
    assert facts.probe(loop)["LABEL"] == "old"
    res = ops.set_uuid(loop, "0b6e3c2a-8f9d-4e1b-a7c5-3d2f1e0a9b8c")
    assert facts.probe(loop)["UUID"] == "0b6e3c2a-8f9d-4e1b-a7c5-3d2f1e0a9b8c"
    spec_of(ops.set_uuid).undo_for(res, {})()
    assert facts.probe(loop)["UUID"] == before["UUID"]


def test_check_finds_and_fixes_errors(area: Path) -> None:
    """A damaged ext4: the check reports errors (e2fsck exit 4); a repair, which may delete the damaged files, is
    refused until forced, then fixes them (exit 1 = success)."""
    loop = ops.attach_loop(image(area, "d.img", 32 * MiB)).path
    ops.create_filesystem(loop)
    assert ops.check_filesystem(loop).status is ops.FsckStatus.CLEAN
    assert ops.repair_filesystem(loop).status is ops.FsckStatus.CLEAN  # nothing to repair: no force needed
    sh("debugfs", "-w", "-R", "clri <11>", loop)
    assert ops.check_filesystem(loop).status is ops.FsckStatus.ERRORS
    with pytest.raises(DataAtRiskError, match=r"found errors.*--force"):
        ops.check_filesystem(loop, repair=True)
    assert ops.check_filesystem(loop).status is ops.FsckStatus.ERRORS  # still untouched
    assert ops.repair_filesystem(loop, force=True).status is ops.FsckStatus.FIXED
    assert ops.check_filesystem(loop).status is ops.FsckStatus.CLEAN


# --- the layer stack ------------------------------------------------------------------------------------------------


def _fill(mp: str, mib: int) -> dict[str, str]:
    """Write files worth ``mib`` MiB and return their hashes."""
    out = {}
    for i in range(mib):
        path = Path(mp, f"f{i}")
        path.write_bytes(hashlib.sha256(str(i).encode()).digest() * (MiB // 32))
        out[path.name] = file_hash(path)
    return out


def _hashes(mp: str) -> dict[str, str]:
    return {p.name: file_hash(p) for p in Path(mp).iterdir() if p.name.startswith("f")}


def test_stack_loop_ext4_shrink_and_grow_keeps_data(area: Path) -> None:
    """loop → ext4: shrink (fs first, then the file) and grow (file first, then fs); data hashes unchanged."""
    img = image(area, "s.img", 128 * MiB)
    loop = ops.attach_loop(img).path
    ops.create_filesystem(loop)
    with Mounted(loop) as mp:
        before = _fill(mp, 8)
    with BlockDeviceStack.open(loop) as stack:
        assert [layer.kind for layer in stack.layers] == ["loop", "ext4"]
        assert stack.granularity == 1024  # lcm(loop 512, ext4 block 1024: mke2fs's "small" type below 512 MiB)
        res = stack.resize("64M")
    assert (res.direction, res.size) == ("shrink", 64 * MiB)
    assert os.path.getsize(img) == 64 * MiB and facts.get_size(loop) == 64 * MiB
    assert int(facts.ext_info(loop)["size"]) == 64 * MiB
    with pytest.raises(ValidationError, match="not a multiple of 1024 bytes"):
        resize_stack(loop, 200 * MiB + 1)  # not whole 1024-byte steps: refused unless rounding is asked for
    assert os.path.getsize(img) == 64 * MiB
    res = resize_stack(loop, 200 * MiB + 1, round="up")
    assert res.size == 200 * MiB + 1024 and os.path.getsize(img) == res.size
    assert int(facts.ext_info(loop)["size"]) == res.size
    with Mounted(loop) as mp:
        assert _hashes(mp) == before
    with pytest.raises(ValidationError, match="minimum"):
        resize_stack(loop, "8M")
    assert os.path.getsize(img) == res.size  # nothing changed


def test_stack_loop_xfs_grows_mounted_and_refuses_shrink(area: Path) -> None:
    """loop → xfs: grows (while mounted); a shrink is refused before anything runs."""
    img = image(area, "x.img", 320 * MiB)
    loop = ops.attach_loop(img).path
    ops.create_filesystem(loop, "xfs")
    with Mounted(loop) as mp:
        before = _fill(mp, 4)
        res = resize_stack(loop, "400M")
        assert res.direction == "grow" and facts.xfs_info(mp)["size"] == 400 * MiB
        assert _hashes(mp) == before
        with pytest.raises(ValidationError, match="cannot shrink"):
            resize_stack(loop, "350M")
    assert os.path.getsize(img) == 400 * MiB


def test_stack_loop_btrfs_grow_and_shrink_on_a_temp_mountpoint(area: Path) -> None:
    """loop → btrfs (unmounted): resized via btrfs filesystem resize on a temporary mountpoint, both ways."""
    img = image(area, "b.img", 300 * MiB)
    loop = ops.attach_loop(img).path
    ops.create_filesystem(loop, "btrfs")
    with Mounted(loop) as mp:
        before = _fill(mp, 4)
    assert resize_stack(loop, "400M").direction == "grow"
    assert resize_stack(loop, "280M").direction == "shrink"
    assert os.path.getsize(img) == 280 * MiB
    with Mounted(loop) as mp:
        assert _hashes(mp) == before
        assert facts.btrfs_device(mp, loop)["size"] == 280 * MiB
    with pytest.raises(ValidationError, match="minimum of 268435456"):  # the kernel's 256 MiB floor for btrfs
        resize_stack(loop, "200M")
    assert not {t for t in mounted_targets() if "pybofh-resize-" in t}


def test_stack_resize_in_atomic_block_rolls_back(area: Path) -> None:
    """resize_stack is composite: in an Atomic block each layer's resize is a step, undone when the block fails."""
    img = image(area, "r.img", 64 * MiB)
    loop = ops.attach_loop(img).path
    ops.create_filesystem(loop)
    with pytest.raises(RuntimeError), Atomic(journal=False) as atomic:
        atomic.blockdev.resize_stack(loop, "96M")
        assert [s.spec.name for s in atomic.steps] == ["resize_loop", "resize_filesystem", "resize_stack"]
        assert [s.undo is not None for s in atomic.steps] == [True, True, False]  # the composite's parts undo
        assert os.path.getsize(img) == 96 * MiB
        raise RuntimeError("later step failed")
    assert os.path.getsize(img) == 64 * MiB and int(facts.ext_info(loop)["size"]) == 64 * MiB


def test_grow_device_grows_the_loop_and_leaves_what_it_holds_alone(area: Path) -> None:
    """grow_device (a disk a running guest owns): the loop grows, its ext4 keeps its size and is never opened or
    probed; a smaller size is refused and changes nothing; in an atomic block the grow is undone."""
    img = image(area, "g.img", 64 * MiB)
    loop = ops.attach_loop(img).path
    ops.create_filesystem(loop)
    res = ops.grow_device(loop, "+32M")
    assert (res.direction, res.size, res.layers) == ("grow", 96 * MiB, (("loop", loop, 96 * MiB),))
    assert os.path.getsize(img) == 96 * MiB and int(facts.ext_info(loop)["size"]) == 64 * MiB
    with pytest.raises(ValidationError, match="only a grow leaves its content alone"):
        ops.grow_device(loop, "64M")
    assert os.path.getsize(img) == 96 * MiB
    with pytest.raises(RuntimeError), Atomic(journal=False) as atomic:
        atomic.blockdev.grow_device(loop, "128M")
        assert [s.spec.name for s in atomic.steps] == ["resize_loop", "grow_device"]
        raise RuntimeError("later step failed")
    assert os.path.getsize(img) == 96 * MiB and int(facts.ext_info(loop)["size"]) == 64 * MiB


# --- a real multi-step Atomic job failing at every step -------------------------------------------------------------

STEPS = ["attach_loop", "create_filesystem", "mount", "write_file", "set_label", "resize_stack"]


@pytest.mark.parametrize("fail_at", [*range(len(STEPS)), "mount-itself", "mkfs-itself"])
def test_atomic_job_fails_at_every_step_and_host_is_restored(area: Path, fail_at: int | str) -> None:
    """attach → mkfs → mount → write → label → resize; fail after step N (or inside one): nothing is left."""
    loops_before, mounts_before = loops_backed_by(area), mounted_targets()
    img = image(area, "job.img", 64 * MiB)
    mp = area / "job-mnt"
    mp.mkdir()
    with pytest.raises((RuntimeError, CommandError)), Atomic(label="blockdev-test") as atomic:
        for i, step in enumerate(STEPS):
            if step == "attach_loop":
                loop = atomic.blockdev.attach_loop(img).path
            elif step == "create_filesystem":
                if fail_at == "mkfs-itself":
                    ops.create_filesystem(loop, "btrfs")  # 64 MiB is too small for btrfs: mkfs.btrfs fails
                ops.create_filesystem(loop, "ext4", label="job")  # allowed: the block created the loop
            elif step == "mount":
                atomic.blockdev.mount(loop, str(mp), ["bogus_option"] if fail_at == "mount-itself" else ())
            elif step == "write_file":
                (mp / "data").write_text("payload")
            elif step == "set_label":
                atomic.blockdev.set_label(loop, "relabelled")
            elif step == "resize_stack":
                atomic.blockdev.resize_stack(loop, "80M")
            if fail_at == i:
                raise RuntimeError(f"injected failure after {step}")
        raise RuntimeError("injected failure at the end")
    assert loops_backed_by(area) == loops_before == []
    assert mounted_targets() == mounts_before
    assert os.path.getsize(img) == 64 * MiB  # the resize (if it ran) was undone before the loop was detached


def test_cli_dry_run_resize_plans_every_command_and_changes_nothing(area: Path, capsys) -> None:
    """``bofh --dry-run blockdev resize`` lists truncate, losetup -c, e2fsck, resize2fs; the file keeps its size."""
    from pybofh_core.cli import main

    img = image(area, "dry.img", 64 * MiB)
    loop = ops.attach_loop(img).path
    ops.create_filesystem(loop)
    with pytest.raises(SystemExit) as exc:
        main(["--dry-run", "blockdev", "resize", loop, "96M"])
    err = capsys.readouterr().err
    assert exc.value.code == 0
    assert f"truncate -s {96 * MiB} -- {img}" in err and f"resize2fs {loop} 98304K" in err
    assert os.path.getsize(img) == 64 * MiB and int(facts.ext_info(loop)["size"]) == 64 * MiB


def test_cli_resize_by_relative_sizes_grows_and_shrinks_a_real_loop_stack(area: Path, capsys) -> None:
    """``--grow-by 32M``, ``-- -16M`` and ``+16M`` resolve against the loop's current size; an unsigned --grow-by
    is required, and SIZE with --grow-by is bad input (exit 2, nothing changed). The data stays intact."""
    from pybofh_core.cli import main

    img = image(area, "rel.img", 64 * MiB)
    loop = ops.attach_loop(img).path
    ops.create_filesystem(loop)
    with Mounted(loop) as mp:
        before = _fill(mp, 4)

    def bofh(*argv: str) -> int:
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
        return int(exc.value.code or 0)

    assert bofh("blockdev", "resize", loop, "--grow-by", "32M") == 0
    assert os.path.getsize(img) == 96 * MiB and int(facts.ext_info(loop)["size"]) == 96 * MiB
    assert bofh("blockdev", "resize", loop, "--", "-16M") == 0
    assert os.path.getsize(img) == 80 * MiB and int(facts.ext_info(loop)["size"]) == 80 * MiB
    assert bofh("blockdev", "resize", loop, "+16M") == 0
    assert os.path.getsize(img) == 96 * MiB
    capsys.readouterr()
    assert bofh("blockdev", "resize", loop, "96M", "--grow-by", "1M") == 2
    assert bofh("blockdev", "resize", loop, "--shrink-by", "-1M") == 2
    err = capsys.readouterr().err
    assert "give exactly one of SIZE, --grow-by and --shrink-by" in err and "without a sign" in err
    assert os.path.getsize(img) == 96 * MiB
    with Mounted(loop) as mp:
        assert _hashes(mp) == before
