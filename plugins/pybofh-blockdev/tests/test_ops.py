"""Operations with the fake runner replaying real recordings: argv of each operation and of its inverse, and bad
input refused before any command runs.

The recordings come from one run of ``tests/record.py`` (one story: mount, resize, relabel, unmount...), so each
test replays the states a real system went through; device names are the recording run's.
"""

from __future__ import annotations

import pytest

from pybofh_blockdev import ops
from pybofh_core.atomic import Atomic
from pybofh_core.errors import DataAtRiskError, IrreversibleOperationError, NotFoundError, ValidationError
from pybofh_core.operations import spec_of

FINDMNT = ("findmnt", "-J", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS,FSROOT")
LOSETUP_LIST = ("losetup", "--list", "--json", "-O", "NAME,BACK-FILE,RO,SIZELIMIT,OFFSET,BACK-INO,BACK-MAJ:MIN")
SWAPON = ("swapon", "--show=NAME", "--noheadings", "--raw")


class Boom(Exception):
    """Raised inside an atomic block to make it roll back."""


def replay(fake_runner, rec) -> None:
    """Answer the recording's own argv with its real stdout and exit status."""
    fake_runner.expect(rec.argv, rec.stdout, returncode=rec.returncode)


def undo_of(func, result, **bound):
    """The Undo the operation declares for ``result`` (what Atomic would journal and run)."""
    return spec_of(func).undo_for(result, bound)


def holds(fake_runner, recording, name: str) -> None:
    """Answer the data check's wipefs and lsblk for the recorded device ``name`` (empty, ext4, parts, btrfs)."""
    replay(fake_runner, recording("wipefs", f"json-{name}"))
    replay(fake_runner, recording("lsblk", f"tree-usage-{name}"))


def mutating(calls) -> list[tuple[str, ...]]:
    """Calls that change the system (everything but the read-only queries)."""
    readonly = {"findmnt", "blkid", "blockdev", "dumpe2fs", "swapon", "xfs_info", "wipefs", "lsblk", "find"}
    return [c for c in calls if c[0] not in readonly and c[:2] != ("losetup", "--list") and c[:2] != ("resize2fs", "-P")
            and c[:3] not in (("btrfs", "filesystem", "show"), ("btrfs", "inspect-internal", "min-dev-size"))]


# --- loop devices ---------------------------------------------------------------------------------------------------


def test_attach_loop_and_its_inverse_detach(fake_runner, recording, fake_nodes) -> None:
    """attach_loop runs ``losetup --show --find -- FILE``; rolling back detaches the device it printed."""
    attach = recording("losetup", "attach-find-show")
    d = recording("losetup", "detach").paths  # recorded after the device was known
    fake_nodes(files=[d["spare_file"]], block=[d["spare"]])
    replay(fake_runner, attach)
    replay(fake_runner, recording("losetup", "list-json-ids"))
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, recording("losetup", "detach"))
    with pytest.raises(Boom), Atomic(journal=False) as atomic:
        loop = atomic.blockdev.attach_loop(d["spare_file"])
        assert loop.path == d["spare"] and atomic.created == [d["spare"]]
        assert atomic.steps[0].undo.identity["back"] == f"{loop.back_dev}:{loop.back_ino}" != "0:0:0"
        raise Boom
    assert mutating(fake_runner.calls) == [
        ("losetup", "--show", "--find", "--", d["spare_file"]),
        ("losetup", "--detach", d["spare"]),
    ]


def test_detach_loop_inverse_reattaches_same_device_and_file(fake_runner, recording, fake_nodes) -> None:
    """detach_loop reads the backing file first, so its undo attaches the same file to the same device."""
    rec = recording("losetup", "detach")
    d = rec.paths
    fake_nodes(files=[d["spare_file"]], block=[d["spare"]])
    replay(fake_runner, recording("losetup", "list-json-ids"))
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, rec)
    loop = ops.detach_loop(d["spare"])
    assert loop.backing_file == d["spare_file"]
    inverse = undo_of(ops.detach_loop, loop)
    assert (inverse.func, inverse.args, dict(inverse.kwargs)) == (
        ops.attach_loop, (d["spare_file"],), {"device": d["spare"], "read_only": False})
    attached = recording("losetup", "attach-find-show").stdout  # what losetup --show printed for that device
    fake_runner.expect(["losetup", "--show", "--", d["spare"], d["spare_file"]], attached)
    replay(fake_runner, recording("losetup", "list-json-ids"))  # read back: the loop's backing inode
    inverse()
    assert mutating(fake_runner.calls)[-1] == ("losetup", "--show", "--", d["spare"], d["spare_file"])
    assert inverse.identity["file"] == d["spare_file"] and inverse.identity["boot_id"]


def test_detach_refuses_a_mounted_loop(fake_runner, recording, fake_nodes) -> None:
    """A mounted loop device is not detached (losetup -d would only set autoclear)."""
    d = recording("findmnt", "json-all").paths
    fake_nodes(block=[d["ext4"]])
    replay(fake_runner, recording("losetup", "list-json-ids"))
    replay(fake_runner, recording("findmnt", "json-all"))
    with pytest.raises(ValidationError, match="mounted"):
        ops.detach_loop(d["ext4"])
    assert mutating(fake_runner.calls) == []


# --- filesystems ----------------------------------------------------------------------------------------------------


def test_create_filesystem_on_an_empty_device(fake_runner, recording, fake_nodes) -> None:
    """mkfs checks signatures and holders (wipefs, lsblk), mounts and swaps (read-only) and then runs
    ``mkfs.ext4 -q -L LABEL -- DEV``."""
    mkfs = recording("mkfs.ext4", "quiet-label")
    d = mkfs.paths
    fake_nodes(block=[d["empty"]])
    holds(fake_runner, recording, "empty")
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, recording("swapon", "show-none"))
    replay(fake_runner, mkfs)
    made = recording("blkid", "probe-ext4-spaced-label")  # what blkid says after mkfs: the result is read back
    fake_runner.expect(["blkid", "-p", "-o", "export", "--", d["empty"]], made.stdout)
    tags = dict(line.split("=", 1) for line in made.stdout.decode().splitlines())
    fs = ops.create_filesystem(d["empty"], label="fresh")
    assert (fs.device, fs.fstype, fs.label, fs.uuid) == (d["empty"], "ext4", "my disk", tags["UUID"])
    assert mutating(fake_runner.calls) == [("mkfs.ext4", "-q", "-L", "fresh", "--", d["empty"])]
    assert spec_of(ops.create_filesystem).irreversible and spec_of(ops.create_filesystem).target == "device"


@pytest.mark.parametrize(
    ("fstype", "kwargs", "argv"),
    [
        ("xfs", {"label": "x", "force": True}, ["mkfs.xfs", "-q", "-f", "-L", "x"]),
        ("btrfs", {"uuid": "8d3f4b7e-3c1a-4e6b-9f0e-2b7c1d5a6e42"},
         ["mkfs.btrfs", "-q", "-U", "8d3f4b7e-3c1a-4e6b-9f0e-2b7c1d5a6e42"]),
        ("swap", {"label": "sw"}, ["mkswap", "-L", "sw"]),
        ("ext3", {}, ["mkfs.ext3", "-q"]),
    ],
)
def test_create_filesystem_argv_per_type(fake_runner, recording, fake_nodes, fstype, kwargs, argv) -> None:
    """Each filesystem's mkfs gets its own flags, ``--`` before the device."""
    d = recording("blkid", "probe-empty").paths
    fake_nodes(block=[d["empty"]])
    holds(fake_runner, recording, "empty")
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, recording("swapon", "show-none"))
    fake_runner.expect([*argv, "--", d["empty"]])  # mkfs -q prints nothing; not parsed
    fake_runner.expect(["blkid", "-p", "-o", "export", "--", d["empty"]], f"TYPE={fstype}\n")  # the read-back
    ops.create_filesystem(d["empty"], fstype, **kwargs)
    assert mutating(fake_runner.calls) == [(*argv, "--", d["empty"])]


def test_create_filesystem_refuses_existing_data_without_force(fake_runner, recording, fake_nodes) -> None:
    """A device holding a filesystem (or a partition table, or partitions in use) is not overwritten unless
    force=True; the refusal names what wipefs and lsblk found and the flag that overrides it."""
    d = recording("blkid", "probe-gpt").paths
    fake_nodes(block=[d["parts"], d["btrfs"]])
    holds(fake_runner, recording, "parts")
    holds(fake_runner, recording, "btrfs")
    with pytest.raises(DataAtRiskError, match=r"gpt partition table.*in use by /dev/loop1p1 .part.") as info:
        ops.create_filesystem(d["parts"])
    assert "pass --force (force=True)" in str(info.value)
    with pytest.raises(DataAtRiskError, match=r"already contains btrfs .UUID .*label 'pool'.*mounted on"):
        ops.create_filesystem(d["btrfs"], "xfs")
    assert mutating(fake_runner.calls) == []


def test_create_filesystem_refuses_a_mounted_device(fake_runner, recording, fake_nodes) -> None:
    """mkfs on a mounted device is refused after the read-only mount check."""
    d = recording("findmnt", "json-all").paths
    fake_nodes(block=[d["btrfs"]])
    replay(fake_runner, recording("findmnt", "json-all"))
    with pytest.raises(ValidationError, match="is mounted on"):
        ops.create_filesystem(d["btrfs"], force=True)
    assert fake_runner.calls == [FINDMNT]


def test_create_filesystem_in_atomic_only_on_what_the_block_created(fake_runner, recording, fake_nodes) -> None:
    """The seed's example: mkfs in an Atomic block is refused on a device the block did not create."""
    d = recording("blkid", "probe-empty").paths
    fake_nodes(block=[d["empty"]])
    with pytest.raises(IrreversibleOperationError), Atomic(journal=False):
        ops.create_filesystem(d["empty"])
    assert fake_runner.calls == []


def test_check_filesystem_statuses(fake_runner, recording, fake_nodes) -> None:
    """e2fsck: exit 0 clean; -n exit 4 errors left; a repair is refused after the read-only check found errors,
    and with force ``-y`` exits 1 fixed (success)."""
    rec = recording("e2fsck", "repair-fixed")
    d = rec.paths
    fake_nodes(block=[d["ext4"], d["dirty"]])
    replay(fake_runner, recording("findmnt", "json-ext4-unmounted"))
    replay(fake_runner, recording("blkid", "probe-ext4-spaced-label"))
    replay(fake_runner, recording("e2fsck", "check-clean"))
    assert ops.check_filesystem(d["ext4"]).status is ops.FsckStatus.CLEAN
    assert undo_of(ops.check_filesystem, None) is None  # a check has nothing to undo
    assert spec_of(ops.check_filesystem).no_undo and spec_of(ops.repair_filesystem).irreversible
    replay(fake_runner, recording("blkid", "probe-ext4-damaged"))
    replay(fake_runner, recording("e2fsck", "check-errors"))
    replay(fake_runner, rec)
    assert ops.check_filesystem(d["dirty"]).status is ops.FsckStatus.ERRORS
    with pytest.raises(DataAtRiskError, match="found errors"):
        ops.check_filesystem(d["dirty"], repair=True)
    assert ("e2fsck", "-f", "-y", d["dirty"]) not in fake_runner.calls
    fixed = ops.repair_filesystem(d["dirty"], force=True)
    assert (fixed.status, fixed.returncode) == (ops.FsckStatus.FIXED, 1)
    assert fake_runner.calls[-1] == ("e2fsck", "-f", "-y", d["dirty"])


def test_btrfs_repair_is_refused(fake_runner, recording, fake_nodes) -> None:
    """btrfs check --repair is never run unattended."""
    d = recording("blkid", "probe-btrfs").paths
    fake_nodes(block=[d["btrfs"]])
    replay(fake_runner, recording("blkid", "probe-btrfs"))
    with pytest.raises(ValidationError, match="dangerous"):
        ops.check_filesystem(d["btrfs"], repair=True)
    assert mutating(fake_runner.calls) == []


# --- resizing -------------------------------------------------------------------------------------------------------


def _ext4_unmounted(fake_runner, recording) -> dict[str, str]:
    d = recording("resize2fs", "shrink-ext4").paths
    replay(fake_runner, recording("findmnt", "json-ext4-unmounted"))
    replay(fake_runner, recording("blkid", "probe-ext4-spaced-label"))
    replay(fake_runner, recording("blockdev", "getsize64-ext4"))
    replay(fake_runner, recording("dumpe2fs", "header-ext4"))
    replay(fake_runner, recording("resize2fs", "minimum-ext4"))
    replay(fake_runner, recording("e2fsck", "preen-clean"))
    return d


def test_ext4_shrink_runs_e2fsck_first_and_undo_grows_back(fake_runner, recording, fake_nodes) -> None:
    """Unmounted ext4 shrink: ``e2fsck -f -p`` (safe fixes only) then ``resize2fs DEV 32768K``; the undo resizes to
    the old size of the filesystem with the same UUID."""
    d = _ext4_unmounted(fake_runner, recording)
    fake_nodes(block=[d["ext4"]])
    replay(fake_runner, recording("resize2fs", "shrink-ext4"))
    res = ops.resize_filesystem(d["ext4"], "32M")
    assert (res.kind, res.old, res.new) == ("ext4", 64 * 1024**2, 32 * 1024**2)
    assert mutating(fake_runner.calls) == [("e2fsck", "-f", "-p", d["ext4"]), ("resize2fs", d["ext4"], "32768K")]
    replay(fake_runner, recording("dumpe2fs", "header-ext4-after-shrink"))
    replay(fake_runner, recording("resize2fs", "grow-ext4"))
    fake_runner.calls.clear()
    inverse = undo_of(ops.resize_filesystem, res)
    assert inverse.identity == {"uuid": recording("blkid", "probe-ext4-spaced-label").text.split("UUID=")[1].split()[0]}
    fake_runner.calls.clear()
    inverse()
    assert mutating(fake_runner.calls) == [("e2fsck", "-f", "-p", d["ext4"]), ("resize2fs", d["ext4"], "65536K")]


def test_ext4_shrink_below_minimum_is_refused_before_e2fsck(fake_runner, recording, fake_nodes) -> None:
    """resize2fs -P says 13694 blocks of 1 KiB: 8 MiB is refused and nothing is changed."""
    d = _ext4_unmounted(fake_runner, recording)
    fake_nodes(block=[d["ext4"]])
    with pytest.raises(ValidationError, match="below the filesystem's minimum of 14022656"):
        ops.resize_filesystem(d["ext4"], "8M")
    assert mutating(fake_runner.calls) == []


def test_ext4_mounted_shrink_is_refused(fake_runner, recording, fake_nodes) -> None:
    """A mounted ext4 only grows."""
    d = recording("findmnt", "json-all").paths
    fake_nodes(block=[d["ext4"]])
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, recording("blkid", "probe-ext4-spaced-label"))
    replay(fake_runner, recording("blockdev", "getsize64-ext4"))
    replay(fake_runner, recording("dumpe2fs", "header-ext4"))
    with pytest.raises(ValidationError, match="shrinks only unmounted"):
        ops.resize_filesystem(d["ext4"], "32M")
    assert mutating(fake_runner.calls) == []


def test_xfs_grows_mounted_and_cannot_be_undone(fake_runner, recording, fake_nodes) -> None:
    """xfs: ``xfs_growfs -D BLOCKS MOUNTPOINT``; its undo only reports that xfs keeps its grown size (xfs cannot
    shrink; the rollback then checks the layers under it); a shrink is refused."""
    rec = recording("xfs_growfs", "grow-blocks")
    d = rec.paths
    fake_nodes(block=[d["xfs"]])
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, recording("blkid", "probe-xfs"))
    replay(fake_runner, recording("blockdev", "getsize64-xfs"))
    replay(fake_runner, recording("xfs_info", "mounted"))
    replay(fake_runner, rec)
    res = ops.resize_filesystem(d["xfs"], 90000 * 4096)
    assert (res.old, res.new) == (320 * 1024**2, 90000 * 4096)
    assert mutating(fake_runner.calls) == [("xfs_growfs", "-D", "90000", d["xfs_mountpoint"])]
    kept = undo_of(ops.resize_filesystem, res)
    assert kept is not None and kept.func is ops.xfs_stays_grown and kept.args == (d["xfs"], 320 * 1024**2)
    with pytest.raises(ValidationError, match="cannot shrink"):
        ops.resize_filesystem(d["xfs"], "300M")


def test_btrfs_shrink_on_its_mountpoint_and_undo(fake_runner, recording, fake_nodes) -> None:
    """btrfs: ``btrfs filesystem resize DEVID:SIZE MOUNTPOINT`` after checking min-dev-size; undo grows back."""
    rec = recording("btrfs", "filesystem-resize-shrink")
    d = rec.paths
    fake_nodes(block=[d["btrfs"]])
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, recording("blkid", "probe-btrfs"))
    replay(fake_runner, recording("blockdev", "getsize64-btrfs"))
    replay(fake_runner, recording("btrfs", "filesystem-show-raw"))
    replay(fake_runner, recording("btrfs", "min-dev-size"))
    replay(fake_runner, rec)
    res = ops.resize_filesystem(d["btrfs"], "300M")
    assert (res.old, res.new) == (400 * 1024**2, 300 * 1024**2)
    assert mutating(fake_runner.calls) == [("btrfs", "filesystem", "resize", "1:314572800", d["btrfs_mountpoint"])]
    replay(fake_runner, recording("btrfs", "filesystem-show-raw-after-shrink"))
    replay(fake_runner, recording("btrfs", "filesystem-resize-grow"))
    fake_runner.calls.clear()
    undo_of(ops.resize_filesystem, res)()
    assert mutating(fake_runner.calls) == [("btrfs", "filesystem", "resize", "1:419430400", d["btrfs_mountpoint"])]
    with pytest.raises(ValidationError, match="256 MiB"):
        ops.resize_filesystem(d["btrfs"], "200M")


def test_swap_resize_keeps_label_and_uuid(fake_runner, recording, fake_nodes) -> None:
    """swap is re-made by mkswap with its label and UUID and the new size in KiB."""
    rec = recording("mkswap", "resize-keep-label-uuid")
    d = rec.paths
    fake_nodes(block=[d["part2"]])
    replay(fake_runner, recording("blkid", "probe-swap"))
    replay(fake_runner, recording("blockdev", "getsize64-part2"))
    replay(fake_runner, recording("swapon", "show-none"))
    replay(fake_runner, rec)
    res = ops.resize_filesystem(d["part2"], "40M")
    assert mutating(fake_runner.calls) == [tuple(rec.argv)]
    assert (res.kind, res.new) == ("swap", 40 * 1024**2)


# --- labels ---------------------------------------------------------------------------------------------------------


def test_set_label_and_its_inverse(fake_runner, recording, fake_nodes) -> None:
    """ext4 label via e2label; the undo sets the old label (read by blkid -p before the change)."""
    rec = recording("e2label", "set")
    d = rec.paths
    fake_nodes(block=[d["ext4"]])
    replay(fake_runner, recording("blkid", "probe-ext4-spaced-label"))
    replay(fake_runner, rec)
    replay(fake_runner, recording("e2label", "set-back"))
    res = ops.set_label(d["ext4"], "new label")
    assert (res.old, res.new) == ("my disk", "new label")
    undo_of(ops.set_label, res)()
    assert mutating(fake_runner.calls) == [("e2label", d["ext4"], "new label"), ("e2label", d["ext4"], "my disk")]


# --- mounts ---------------------------------------------------------------------------------------------------------


def test_mount_and_its_inverse_unmount(fake_runner, recording, fake_nodes) -> None:
    """mount checks the mountpoint is free, runs ``mount -- DEV DIR``; rollback runs ``umount -- DIR``."""
    rec = recording("mount", "ext4")
    d = rec.paths
    fake_nodes(block=[d["ext4"]], dirs=[d["ext4_mountpoint"]])
    replay(fake_runner, recording("findmnt", "json-ext4-unmounted"))
    replay(fake_runner, recording("find", "first-entry-empty-dir"))
    replay(fake_runner, recording("blkid", "probe-ext4-spaced-label"))
    replay(fake_runner, rec)
    with pytest.raises(Boom), Atomic(journal=False) as atomic:
        atomic.blockdev.mount(d["ext4"], d["ext4_mountpoint"])
        replay(fake_runner, recording("findmnt", "json-ext4-mounted-rw"))  # the state after the mount
        fake_runner.expect(["umount", "--", d["ext4_mountpoint"]])  # umount prints nothing
        raise Boom
    assert mutating(fake_runner.calls) == [("mount", "--", d["ext4"], d["ext4_mountpoint"]),
                                           ("umount", "--", d["ext4_mountpoint"])]


def test_unmount_inverse_remounts_read_only_when_it_was(fake_runner, recording, fake_nodes) -> None:
    """The recorded ext4 was mounted ro: unmounting it records ``-o ro`` for the undo."""
    rec = recording("umount", "ext4")
    d = rec.paths
    fake_nodes(dirs=[d["ext4_mountpoint"]])
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, rec)
    m = ops.unmount(d["ext4_mountpoint"])
    fake_nodes(block=[d["ext4"]], dirs=[d["ext4_mountpoint"]])
    replay(fake_runner, recording("blkid", "probe-ext4-spaced-label"))
    inverse = undo_of(ops.unmount, m)
    assert (inverse.func, inverse.args) == (ops.mount, (d["ext4"], d["ext4_mountpoint"], ["ro"]))
    assert inverse.identity["target"] == d["ext4_mountpoint"] and inverse.identity["uuid"]
    replay(fake_runner, recording("findmnt", "json-ext4-unmounted"))
    replay(fake_runner, recording("find", "first-entry-empty-dir"))
    fake_runner.expect(["mount", "-o", "ro", "--", d["ext4"], d["ext4_mountpoint"]])
    inverse()
    assert mutating(fake_runner.calls) == [("umount", "--", d["ext4_mountpoint"]),
                                           ("mount", "-o", "ro", "--", d["ext4"], d["ext4_mountpoint"])]


def test_mount_on_a_busy_mountpoint_is_refused(fake_runner, recording, fake_nodes) -> None:
    """Something is already mounted on the directory: ValidationError, no mount command."""
    d = recording("findmnt", "json-all").paths
    fake_nodes(block=[d["empty"]], dirs=[d["btrfs_mountpoint"]])
    replay(fake_runner, recording("findmnt", "json-all"))
    with pytest.raises(ValidationError, match="busy"):
        ops.mount(d["empty"], d["btrfs_mountpoint"])
    assert fake_runner.calls == [FINDMNT]


def test_unmount_of_something_not_mounted(fake_runner, recording) -> None:
    """NotFoundError when neither a mountpoint nor a mounted device matches."""
    replay(fake_runner, recording("findmnt", "json-all"))
    with pytest.raises(NotFoundError):
        ops.unmount("/nowhere/mounted")


# --- bad input: refused before any command --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: ops.create_filesystem("dev/loop1"), ValidationError),  # relative
        (lambda: ops.create_filesystem("-F"), ValidationError),  # option-like
        (lambda: ops.create_filesystem("/dev/does-not-exist"), NotFoundError),
        (lambda: ops.create_filesystem("/fake/dir"), ValidationError),  # not a block device
        (lambda: ops.create_filesystem("/fake/dev", "ntfs"), ValidationError),
        (lambda: ops.create_filesystem("/fake/dev", label="-L"), ValidationError),
        (lambda: ops.create_filesystem("/fake/dev", label="a\nb"), ValidationError),
        (lambda: ops.create_filesystem("/fake/dev", label="x" * 17), ValidationError),  # ext4 allows 16 bytes
        (lambda: ops.create_filesystem("/fake/dev", "xfs", label="a b"), ValidationError),
        (lambda: ops.create_filesystem("/fake/dev", uuid="not-a-uuid"), ValidationError),
        (lambda: ops.mount("/fake/dev", "-o"), ValidationError),
        (lambda: ops.mount("/fake/dev", "relative/dir"), ValidationError),
        (lambda: ops.mount("/fake/dev", "/fake/missing-dir"), NotFoundError),
        (lambda: ops.mount("/fake/dev", "/fake/dir", ["ro x"]), ValidationError),
        (lambda: ops.mount("/fake/dev", "/fake/dir", ["-o"]), ValidationError),
        (lambda: ops.mount("/fake/dev", "/fake/dir", fstype="ext4 -o x"), ValidationError),
        (lambda: ops.unmount("-l"), ValidationError),
        (lambda: ops.attach_loop("/fake/missing.img"), NotFoundError),
        (lambda: ops.attach_loop("/fake/file.img", device="/dev/sda"), ValidationError),
        (lambda: ops.detach_loop("/fake/dev"), ValidationError),  # not /dev/loopN
        (lambda: ops.resize_filesystem("/fake/dev", "-1G"), ValidationError),
        (lambda: ops.resize_filesystem("/fake/dev", "ten gigs"), ValidationError),
        (lambda: ops.resize_loop("/dev/loop99", "1000"), ValidationError),  # not a multiple of 512
        (lambda: ops.set_label("/fake/dev", "-x"), ValidationError),
        (lambda: ops.set_uuid("/fake/dev", "xyz"), ValidationError),
    ],
)
def test_bad_input_raises_before_any_command(fake_runner, fake_nodes, call, error) -> None:
    """Names, paths, sizes, labels and options are checked before the first command (even read-only ones)."""
    fake_nodes(block=["/fake/dev", "/dev/loop99"], dirs=["/fake/dir"], files=["/fake/file.img"])
    with pytest.raises(error):
        call()
    assert fake_runner.calls == []


def test_every_operation_declares_an_inverse_or_why_not() -> None:
    """Each registered blockdev operation has an inverse, an irreversible reason, no undo (and why), or is a
    composite."""
    from pybofh_core.session import get_plugins

    specs = list(get_plugins().operations.specs("blockdev"))
    assert {s.name for s in specs} >= {"attach_loop", "detach_loop", "resize_loop", "create_filesystem",
                                       "check_filesystem", "resize_filesystem", "set_label", "set_uuid", "mount",
                                       "unmount", "resize_stack"}
    for spec in specs:
        assert spec.inverse is not None or spec.irreversible or spec.no_undo or spec.composite, spec.name
