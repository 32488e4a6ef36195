"""Operations on block devices, each with its inverse right beside it: loops, filesystems, labels, mounts, resizes.

Every function validates its input before the first command, runs its commands through the core runner, and
returns what its undo needs (old sizes, old labels, mount options). Each undo names its object by identity: a loop
device by the device and inode of its backing file, a filesystem by its UUID, a mount by its target, the UUID of
what is mounted and the boot id (a mount never survives a reboot). Undos known before a command (old sizes, old
labels, the unmount of a new mount) are journalled ahead of it. Operations that could destroy or hide data (mkfs,
a repairing fsck, shrinking a loop device, mounting over files) check first and need ``force`` to go on.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid as uuidlib
from collections.abc import Mapping
from typing import Any

from pybofh_core import operation, undo
from pybofh_core.errors import (
    CommandError,
    DataAtRiskError,
    NotFoundError,
    ParseError,
    PybofhError,
    StepKeptError,
    ValidationError,
)
from pybofh_core.identity import ACT, Verdict, already, ephemeral, other, same_boot
from pybofh_core.model import DIR, planned_path
from pybofh_core.operations import undo_ahead
from pybofh_core.parsing import load_json
from pybofh_core.runner import get_runner, run
from pybofh_core.safety import refuse_if_holds_data, refuse_mountpoint, refuse_shrink
from pybofh_core.validate import PathArg, check_round, parse_size, size_spec, size_text, validate_path

from . import checks, effects, facts
from .checks import (
    check_device,
    check_directory,
    check_file,
    check_fstype,
    check_label,
    check_loop_device,
    check_options,
    check_uuid,
)
from .errors import FilesystemErrorsLeft as FilesystemErrorsLeft  # still importable from ops
from .errors import FilesystemErrorsLeftError
from .errors import MountPoolExhaustedError as MountPoolExhaustedError  # still importable from ops
from .layers import BlockDeviceStack, StackResized
from .types import EXT_FAMILY, Filesystem, FsckResult, FsckStatus, LoopDevice, Mount, Relabelled, Resized

# --- loop devices -------------------------------------------------------------------------------------------------


def _back(loop: LoopDevice) -> str:
    """``maj:min:inode`` of the file behind ``loop`` (what losetup holds open, even if the file was renamed)."""
    return f"{loop.back_dev}:{loop.back_ino}"


def _loop_identity(loop: LoopDevice) -> dict[str, Any]:
    return ephemeral(back=_back(loop), file=loop.backing_file)


def _file_back(path: str) -> str | None:
    info = get_runner().stat(path)
    return None if info is None else f"{os.major(info.dev)}:{os.minor(info.dev)}:{info.ino}"


def _identify_loop(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """A loop device is the step's if, in the same boot, it is attached to the same backing inode."""
    device = str(args["device"])
    if not same_boot(identity):
        return already(f"{device} was attached before a reboot")
    loop = next((lp for lp in facts.list_loops() if facts._same(lp.path, device)), None)
    if loop is None:
        return already(f"{device} is not attached any more")
    if _back(loop) != identity.get("back"):
        return other(f"{device} is now attached to {loop.backing_file} (inode {_back(loop)}), not to "
                     f"{identity.get('file')} (inode {identity.get('back')})")
    return ACT


def _identify_reattach(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Re-attaching (the undo of a detach) is done when the loop device holds the file again; refused when the
    backing file was replaced, or the loop device is taken by another file."""
    device, file = args.get("device"), str(args["file"])
    if not same_boot(identity):
        return already(f"{device} was detached before a reboot")
    loop = next((lp for lp in facts.list_loops() if device and facts._same(lp.path, str(device))), None)
    if loop is not None:
        if _back(loop) == identity.get("back"):
            return already(f"{device} is attached to {file} again")
        return other(f"{device} is now attached to {loop.backing_file}, not {file}")
    now = _file_back(file)
    if now != identity.get("back"):
        return other(f"backing file {file} is {'gone' if now is None else 'another file now'} "
                     f"(inode {now}, the step's was {identity.get('back')})")
    return ACT


def _attach_undo(loop: LoopDevice) -> Any:
    if get_runner().dry_run:  # the device may not be known yet, nor the backing inode
        return undo(detach_loop, loop.path)
    return undo(detach_loop, loop.path).expecting(**_loop_identity(loop))


@operation(inverse=_attach_undo, creates=lambda loop: [loop.path], requires=["losetup"], identify=_identify_reattach,
           effects=effects.loop_attached)
def attach_loop(
    file: PathArg, *, device: PathArg | None = None, read_only: bool = False, partscan: bool = False
) -> LoopDevice:
    """Attach regular file ``file`` to a free loop device (or to ``device``) and return it (``/dev/loopN``)."""
    file = check_file(file)
    device = None if device is None else os.fspath(device)
    if device is not None and not re.fullmatch(r"/dev/loop[0-9]+", device):
        raise ValidationError(f"loop device: {device!r} is not a /dev/loopN path")
    argv = ["losetup", "--show"]
    if read_only:
        argv.append("--read-only")
    if partscan:
        argv.append("--partscan")
    argv += ["--", device, file] if device else ["--find", "--", file]
    out = run(argv).text.strip()
    if not out:  # a dry run prints nothing: the device taken with --find is known only after the run
        return LoopDevice(path=device or effects.planned_loop(file), backing_file=file, read_only=read_only)
    if not re.fullmatch(r"/dev/loop[0-9]+", out):
        raise ParseError("losetup", "expected the /dev/loopN it attached", out, "losetup --show")
    return facts.get_loop(out)  # read back: the backing inode is the loop's identity


def _undo_detach(loop: LoopDevice) -> Any:
    if not loop.backing_file or loop.backing_file.endswith("(deleted)"):
        return None  # the file is gone: nothing can be attached again
    return undo(attach_loop, loop.backing_file, device=loop.path, read_only=loop.read_only).expecting(
        **_loop_identity(loop))


@operation(inverse=_undo_detach, requires=["losetup"], identify=_identify_loop, takes_away=True,
           effects=effects.loop_detached)
def detach_loop(device: PathArg) -> LoopDevice:
    """Detach loop device ``device``; refuses while it (or a partition of it) is mounted."""
    device = check_loop_device(device)
    loop = facts.get_loop(device)
    busy = [m.target for m in facts.list_mounts()
            if m.device == device or re.fullmatch(re.escape(device) + r"p[0-9]+", m.device)]
    if busy:
        raise ValidationError(f"{device} is mounted on {', '.join(busy)}; unmount it before detaching")
    if loop.backing_file and not loop.backing_file.endswith("(deleted)"):
        undo_ahead(lambda: _undo_detach(loop))
    run(["losetup", "--detach", device])
    return loop


def _check_loop_shrink(args: Mapping[str, Any]) -> None:
    """Shrinking a loop device cuts the end of its backing file: refused unless its content is known to fit."""
    device = check_loop_device(args["device"])
    new = parse_size(args["size"], what="loop size", minimum=512, multiple_of=512)
    if new < facts.get_size(device):
        refuse_shrink(device, new, f"loop device {device}", f"bofh blockdev resize {device} SIZE shrinks it with "
                                                            "its content")


def _loop_shrinks(args: Mapping[str, Any]) -> bool:
    """A loop resize takes away the end of its device when it shrinks it."""
    return parse_size(args["size"], what="loop size", minimum=512) < facts.get_size(check_loop_device(args["device"]))


def _resize_loop_undo(res: Resized, loop: LoopDevice) -> Any:
    return undo(resize_loop, res.device, res.old).expecting(**_loop_identity(loop))


@operation(inverse=lambda res: _resize_loop_undo(res, facts.get_loop(res.device)) if res.old != res.new else None,
           requires=["losetup", "truncate"], target="device", check=_check_loop_shrink, identify=_identify_loop,
           takes_away=_loop_shrinks, effects=effects.loop_resized)
def resize_loop(device: PathArg, size: int | str, *, force: bool = False) -> Resized:
    """Resize loop device ``device`` to ``size`` bytes by resizing its backing file (``truncate`` + ``losetup -c``).

    Shrinking cuts the end of the file, so it is refused unless what the device holds is known to fit (shrink it
    first; ``BlockDeviceStack`` does that), or ``force``.
    """
    device = check_loop_device(device)
    new = parse_size(size, what="loop size", minimum=512, multiple_of=512)
    loop = facts.get_loop(device)
    if loop.offset or loop.sizelimit:
        raise ValidationError(f"{device} uses an offset or size limit; resizing such loop devices is not supported")
    if not loop.backing_file.startswith("/") or loop.backing_file.endswith("(deleted)"):
        raise ValidationError(f"{device} has no resizable backing file ({loop.backing_file!r})")
    old = facts.get_size(device)
    if new != old:
        undo_ahead(lambda: _resize_loop_undo(Resized(device=device, kind="loop", old=old, new=new), loop))
        run(["truncate", "-s", str(new), "--", loop.backing_file])
        run(["losetup", "--set-capacity", device])
    return Resized(device=device, kind="loop", old=old, new=new)


# --- filesystems --------------------------------------------------------------------------------------------------


def _mkfs_argv(fstype: str, device: str, label: str | None, uuid: str | None, force: bool) -> list[str]:
    if fstype in EXT_FAMILY:
        argv = [f"mkfs.{fstype}", "-q"] + (["-F"] if force else [])
        argv += (["-L", label] if label is not None else []) + (["-U", uuid] if uuid else [])
    elif fstype == "xfs":
        argv = ["mkfs.xfs", "-q"] + (["-f"] if force else [])
        argv += (["-L", label] if label is not None else []) + (["-m", f"uuid={uuid}"] if uuid else [])
    elif fstype == "btrfs":
        argv = ["mkfs.btrfs", "-q"] + (["-f"] if force else [])
        argv += (["-L", label] if label is not None else []) + (["-U", uuid] if uuid else [])
    else:  # swap
        argv = ["mkswap"] + (["-f"] if force else [])
        argv += (["-L", label] if label is not None else []) + (["-U", uuid] if uuid else [])
    return [*argv, "--", device]


def _mkfs_request(device: Any, fstype: Any, label: Any, uuid: Any) -> tuple[str, str, str | None, str | None]:
    """The checked arguments of ``create_filesystem()`` (no command runs)."""
    device = check_device(device)
    fstype = check_fstype(fstype)
    if label is not None:
        label = check_label(label, fstype)
        if fstype == "xfs" and " " in label:
            raise ValidationError(f"label {label!r}: xfs labels cannot contain spaces here (xfs_admin splits them)")
    if uuid is not None:
        uuid = check_uuid(uuid)
    return device, fstype, label, uuid


def _check_mkfs(args: Mapping[str, Any]) -> None:
    """mkfs destroys whatever the device holds: refused when wipefs finds any signature or it is in use."""
    device, fstype, _, _ = _mkfs_request(args["device"], args["fstype"], args["label"], args["uuid"])
    refuse_if_holds_data(device, f"making {fstype} on it")


@operation(irreversible="mkfs destroys what the device held", target="device", aliases=["createFilesystem"],
           requires=["mkfs.ext4|mkfs.xfs|mkfs.btrfs|mkswap"], check=_check_mkfs, effects=effects.fs_created)
def create_filesystem(
    device: PathArg, fstype: str = "ext4", label: str | None = None, force: bool = False, uuid: str | None = None
) -> Filesystem:
    """Make a ``fstype`` filesystem (ext2/3/4, xfs, btrfs, swap) on ``device``.

    Refuses a mounted device, and (unless ``force``) a device where wipefs finds any signature — a filesystem,
    partition table, LUKS header or PV — or that something is stacked on.
    """
    device, fstype, label, uuid = _mkfs_request(device, fstype, label, uuid)
    facts.require_unmounted(device, "making a filesystem on it")
    if device in facts.active_swaps():
        raise ValidationError(f"{device} is an active swap; swapoff it first")
    run(_mkfs_argv(fstype, device, label, uuid, force))
    if get_runner().dry_run:  # the UUID mkfs chooses is known only after the run
        return Filesystem(device=device, fstype=fstype, label=label, uuid=uuid or effects.fs_uuid_placeholder(device))
    made = facts.probe(device)  # read back: the UUID mkfs chose, and the label as the filesystem stores it
    return Filesystem(device=device, fstype=made.get("TYPE", fstype), label=made.get("LABEL", label),
                      uuid=made.get("UUID", uuid))


createFilesystem = create_filesystem


def _fstype_of(device: str) -> str:
    found = facts.probe(device)
    fstype = found.get("TYPE")
    if fstype is None:
        raise ValidationError(f"{device} holds no filesystem blkid recognises")
    if fstype not in ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap"):
        raise ValidationError(f"{device} holds {fstype}, which pybofh-blockdev does not manage")
    return fstype


def _fsck_status(fstype: str, rc: int, repair: bool) -> FsckStatus:
    if fstype in EXT_FAMILY:
        return {0: FsckStatus.CLEAN, 1: FsckStatus.FIXED, 2: FsckStatus.FIXED_REBOOT}.get(rc, FsckStatus.ERRORS)
    if rc == 0:
        return FsckStatus.FIXED if repair and fstype == "xfs" else FsckStatus.CLEAN
    return FsckStatus.ERRORS


def _fsck(device: PathArg, repair: bool) -> FsckResult:
    """Run the filesystem's checker read-only, or repairing (``e2fsck -y``, ``xfs_repair``)."""
    device = check_device(device)
    fstype = _fstype_of(device)
    if fstype == "btrfs" and repair:
        raise ValidationError("btrfs check --repair is dangerous; run it by hand after reading btrfs-check(8)")
    facts.require_unmounted(device, "checking it")
    ok: tuple[int, ...]
    if fstype in EXT_FAMILY:
        argv = ["e2fsck", "-f", "-y" if repair else "-n", device]
        ok = (0, 1, 2, 4)
    elif fstype == "xfs":
        argv = ["xfs_repair", device] if repair else ["xfs_repair", "-n", device]
        ok = (0, 1)
    elif fstype == "btrfs":
        argv = ["btrfs", "check", "--readonly", device]
        ok = (0, 1)
    else:
        raise ValidationError(f"{device} is swap, which has nothing to check")
    res = run(argv, ok_codes=ok, readonly=not repair)
    status = _fsck_status(fstype, res.returncode, repair)
    return FsckResult(device, fstype, status, res.returncode, res.text + res.err)


@operation(no_undo="a read-only check changes nothing (repair=True runs repair_filesystem)",
           requires=["e2fsck|xfs_repair|btrfs"])
def check_filesystem(device: PathArg, repair: bool = False) -> FsckResult:
    """Check the (unmounted) filesystem on ``device`` read-only; ``repair=True`` is ``repair_filesystem()``.

    e2fsck exit 1 (errors fixed) and 2 (fixed, reboot needed) count as success; 4 and up mean errors left.
    btrfs is only checked read-only: ``btrfs check --repair`` is too dangerous to run unattended.
    """
    if repair:
        return repair_filesystem(device)
    return _fsck(device, repair=False)


def _repairable(device: Any) -> str:
    """The checked device of ``repair_filesystem()`` (btrfs is refused: ``btrfs check --repair`` is dangerous)."""
    device = check_device(device)
    if _fstype_of(device) == "btrfs":
        raise ValidationError("btrfs check --repair is dangerous; run it by hand after reading btrfs-check(8)")
    return device


def _check_repair(args: Mapping[str, Any]) -> None:
    """A repair may delete damaged files: a read-only check runs first, and errors it finds need ``force``."""
    found = _fsck(_repairable(args["device"]), repair=False)
    if found.status is not FsckStatus.CLEAN:
        raise DataAtRiskError(
            f"{found.device}: {found.fstype} check found errors (exit {found.returncode}); repairing them may delete "
            "damaged files and directories — run the read-only check and read its report, then pass --force "
            "(force=True) to repair"
        )


@operation(irreversible="a repair may delete damaged files", target="device", check=_check_repair,
           requires=["e2fsck|xfs_repair"])
def repair_filesystem(device: PathArg, force: bool = False) -> FsckResult:
    """Check and repair the (unmounted) filesystem on ``device`` (``e2fsck -f -y``, ``xfs_repair``).

    Refused, unless ``force``, when a read-only check first finds errors: repairing is what may delete data.
    """
    return _fsck(_repairable(device), repair=True)


def _preen(device: str, why: str) -> None:
    """``e2fsck -f -p`` before a resize or UUID change: fixes only what is safe unattended; errors that need a
    real repair stop the operation (exit 4) and are left for ``repair_filesystem``."""
    res = run(["e2fsck", "-f", "-p", device], ok_codes=(0, 1, 2, 4))
    if res.returncode >= 4:
        raise FilesystemErrorsLeftError(
            f"e2fsck found errors on {device} it will not fix unattended; not {why} — check it, then run "
            f"'bofh blockdev fsck --repair --force {device}'"
        )


#: Where a temporary mountpoint is made (``mktemp -d``, where commands run) and what a dry run calls it
TEMP_MOUNT_TEMPLATE = "/tmp/pybofh-resize-XXXXXXXX"
PLANNED_TEMP_MOUNT = planned_path("/tmp/pybofh-resize-", "made by mktemp")


def _need_mountpoint(device: str, fstype: str, temp_mount: bool) -> tuple[str, bool]:
    """The mountpoint of ``device``; mounts it on a temp dir when allowed (returned flag: unmount afterwards).

    The directory is made where commands run (``mktemp -d``: on the remote host for a remote runner); a dry run
    plans it as ``/tmp/pybofh-resize-(made by mktemp)``, a directory of its model."""
    where = facts.mounts_of(device)
    if where:
        return where[0].target, False
    if not temp_mount:
        raise ValidationError(f"{fstype} on {device} is resized while mounted; mount it (or pass temp_mount=True)")
    made = run(["mktemp", "-d", TEMP_MOUNT_TEMPLATE]).text.strip()
    model = get_runner().model
    if model is not None:
        made = PLANNED_TEMP_MOUNT
        model.put(DIR, made, True)
    if not made.startswith(TEMP_MOUNT_TEMPLATE.rstrip("X")):
        raise CommandError(["mktemp", "-d", TEMP_MOUNT_TEMPLATE], 0, made.encode(), b"",
                           reason="mktemp printed no directory")
    try:
        mount(device, made)
    except BaseException:
        _remove_temp_dir(made)
        raise
    return made, True


def _remove_temp_dir(path: str) -> None:
    """Remove a temporary mountpoint ``_need_mountpoint`` made (empty: ``rmdir`` removes nothing else)."""
    run(["rmdir", "--", path])
    model = get_runner().model
    if model is not None:
        model.remove(DIR, path)


def _release_temp(mp: str) -> None:
    unmount(mp)
    _remove_temp_dir(mp)


def _multiple(value: int, step: int, what: str) -> None:
    if value % step:
        lower, upper = value // step * step, (value // step + 1) * step
        raise ValidationError(f"{what} {value} is not a multiple of the {step}-byte block; use {lower} or {upper}")


def _fs_uuid(device: str) -> str | None:
    """The UUID of the filesystem on ``device`` (blkid -p), None when it has none."""
    return facts.probe(device).get("UUID") or None


def _identify_fs(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """A filesystem is the step's if its UUID is the one recorded (the device path alone may hold another now).

    An inner device that is gone (its LUKS closed, or the machine restarted) does not mean the filesystem is: while
    the container it was recorded ``within`` exists, the undo reopens it and checks the UUID there.
    """
    device = str(args["device"])
    if get_runner().stat(device) is None:
        within = args.get("within")
        if within and _find_container(str(within)) is not None:
            return ACT
        return already(f"{device} is gone" + (f", and so is container {within}" if within else ""))
    now = _fs_uuid(device)
    if now != identity.get("uuid"):
        return other(f"{device} now holds filesystem {now or '(none)'}, not {identity.get('uuid')}")
    return ACT


#: Where the inner devices of container layers live: device-mapper (LUKS) and DRBD.
INNER_DEVICE_PREFIXES = ("/dev/dm-", "/dev/mapper/", "/dev/drbd")


def _container_of(device: str) -> str | None:
    """The UUID of the container layer (LUKS…) whose open inner device ``device`` is, None when it is not one: a
    resize's undo records it, to reopen the container should ``device`` be gone by then (closed, a restart)."""
    if not get_runner().realpath(device).startswith(INNER_DEVICE_PREFIXES):
        return None  # a disk, partition or loop device is nobody's inner device
    # A flat list: the device first, then what it sits on, each row naming (PKNAME) the row it sits under.
    res = run(["lsblk", "--json", "--list", "--inverse", "-o", "KNAME,PKNAME,PATH", "--", device], readonly=True,
              check=False)
    if res.returncode != 0 or not res.text.strip():
        return None
    try:
        rows = load_json(res.text, "lsblk")[0]["blockdevices"]
        parents = [r["path"] for r in rows[1:] if r.get("pkname") == rows[0]["kname"] and r.get("path")]
    except (ParseError, ValueError, KeyError, TypeError, IndexError):
        return None
    if len(parents) != 1:
        return None  # not an inner device, or one over several devices (RAID…): no single container to reopen
    from .layers import plugin_layer

    probe = facts.probe(parents[0])
    layer = plugin_layer(parents[0], probe)
    return probe.get("UUID") if layer is not None and layer.container else None


def _find_container(uuid: str) -> str | None:
    """The device holding the container with ``uuid`` (a scan by blkid, no cache), None when none does."""
    res = run(["blkid", "-c", "/dev/null", "-o", "device", "-t", f"UUID={uuid}"], readonly=True, ok_codes=(0, 2))
    found = res.text.split()
    return found[0] if res.returncode == 0 and found else None


@operation(no_undo="it only reports that a grown xfs keeps its size", aliases=["xfsStaysGrown"], requires=["xfs_db"])
def xfs_stays_grown(device: PathArg, size: int | str) -> None:
    """The undo of an xfs grow: xfs cannot shrink, so the rollback reports that the filesystem keeps its grown size
    (the step is not undone; its size read with ``xfs_db`` where the device is there), and the undos of the layers
    under it then run with their data checks — which keep them grown too, instead of cutting the filesystem off."""
    device = validate_path(device, what="device")
    old = parse_size(size, what="filesystem size", minimum=1)
    now = ""
    if get_runner().stat(device) is not None:
        with contextlib.suppress(PybofhError):
            now = f" (it is {size_text(facts.content_size(device, 'xfs') or 0)} now)"
    raise StepKeptError(f"xfs on {device} cannot shrink back to {size_text(old)}{now}; it keeps its grown size "
                        "(and so do the layers under it)")


def _resize_undo(res: Resized, uuid: str | None = None) -> Any:
    if res.old == res.new:
        return None
    if res.kind == "xfs":
        return undo(xfs_stays_grown, res.device, res.old) if res.new > res.old else None
    within = {} if get_runner().dry_run else {k: v for k, v in [("within", _container_of(res.device))] if v}
    if res.kind == "btrfs":
        u = undo(resize_filesystem, res.device, res.old, temp_mount=True, **within)
    else:  # ext grown online shrinks only unmounted
        u = undo(resize_filesystem, res.device, res.old, remount=True, **within)
    uuid = uuid if uuid is not None else _fs_uuid(res.device)
    return u.expecting(uuid=uuid) if uuid else u


def _resize_within(container: str, device: str, size: int | str | None, temp_mount: bool, remount: bool) -> Resized:
    """Reach a filesystem whose inner device is gone through its container (open it, or find it open under
    another name), check it is the recorded one, resize it, and close what was opened."""
    from pybofh_core.errors import IdentityMismatchError
    from pybofh_core.operations import expected_identity

    from .layers import plugin_layer

    outer = _find_container(container)
    if outer is None:
        raise NotFoundError(f"{device} is gone, and so is container {container}")
    layer = plugin_layer(outer, facts.probe(outer))
    if layer is None or not layer.container:
        raise ValidationError(f"{outer} (container {container}) is not a container any installed plugin opens")
    inner, opened = layer.inner, False
    if inner is None:
        inner, opened = layer.open(), True
    try:
        if inner is None:
            raise ValidationError(f"{outer} (container {container}) opened to no device")
        want = expected_identity().get("uuid")
        have = _fs_uuid(inner)
        if want and have != want:
            raise IdentityMismatchError(f"{inner} (container {container}) holds filesystem {have or '(none)'}, not "
                                        f"{want}; left alone")
        return resize_filesystem(inner, size, temp_mount=temp_mount, remount=remount)
    finally:
        if opened:
            layer.close()


@operation(inverse=_resize_undo, requires=["resize2fs|xfs_growfs|btrfs|mkswap"],
           identify=_identify_fs, effects=effects.fs_resized)
def resize_filesystem(
    device: PathArg, size: int | str | None = None, *, temp_mount: bool = False, remount: bool = False,
    within: str | None = None,
) -> Resized:
    """Resize the filesystem on ``device`` to ``size`` bytes, or to fill the device when ``size`` is None.

    ext2/3/4: grow or shrink unmounted (``e2fsck -f -y`` first), grow only while mounted; never below
    ``resize2fs -P``. xfs: grow only, while mounted (``xfs_growfs``). btrfs: ``btrfs filesystem resize`` on its
    mountpoint, never below ``min-dev-size``. swap: re-made by mkswap with its label and UUID. xfs and btrfs need
    a mountpoint: with ``temp_mount`` an unmounted one is mounted on a temporary directory for the resize. With
    ``remount`` a mounted ext filesystem that must shrink is unmounted, shrunk and mounted again where it was (the
    undo of an online grow uses this). ``within`` is the UUID of the container (LUKS) ``device`` is the inner device
    of: when ``device`` is gone (the container was closed, or the machine restarted), the container is opened for
    the resize (its key from the key providers, or ``bofh journal rollback --key-file``) and closed again.
    """
    if within is not None:
        if not isinstance(within, str) or not re.fullmatch(r"[0-9A-Za-z-]{1,64}", within):
            raise ValidationError(f"within: {within!r} is not a container UUID")
        if get_runner().stat(validate_path(device, what="device")) is None:
            return _resize_within(within, os.fspath(device), size, temp_mount, remount)
    device = check_device(device)
    target = None if size is None else parse_size(size, what="filesystem size", minimum=1)
    fstype = _fstype_of(device)
    dev_size = facts.get_size(device)
    if get_runner().dry_run and target is not None:
        dev_size = max(dev_size, target)  # a dry run did not grow the device in an earlier step: assume it did
    if target is not None and target > dev_size:
        raise ValidationError(
            f"filesystem size {target} is larger than {device} ({dev_size} bytes); grow the device first"
        )
    if fstype in EXT_FAMILY:
        return _resize_ext(device, fstype, target, dev_size, remount)
    if fstype == "swap":
        return _resize_swap(device, target, dev_size)
    mp, temporary = _need_mountpoint(device, fstype, temp_mount)
    read_at = device if temporary and get_runner().dry_run else mp  # a planned mount is not there to read through
    try:
        if fstype == "xfs":
            return _resize_xfs(device, mp, target, read_at)
        return _resize_btrfs(device, mp, target, dev_size, read_at)
    finally:
        if temporary:
            _release_temp(mp)


def _resize_ext(device: str, fstype: str, target: int | None, dev_size: int, remount: bool = False) -> Resized:
    info = facts.ext_info(device)
    bs, old = int(info["block_size"]), int(info["size"])
    new = dev_size // bs * bs if target is None else target
    _multiple(new, bs, "filesystem size")
    if new == old:
        return Resized(device, fstype, old, old)
    where = facts.mounts_of(device)
    if where and new < old and not remount:
        raise ValidationError(f"{device} is mounted; {fstype} shrinks only unmounted")
    if new < old:
        minimum = facts.ext_minimum_size(device)
        if new < minimum:
            raise ValidationError(f"{device}: {size_text(new)} is below the filesystem's minimum of "
                                  f"{size_text(minimum)}")
    if where and new < old:  # remount: unmount, shrink, mount again where and how it was
        if len(where) > 1:
            raise ValidationError(f"{device} is mounted {len(where)} times; unmount it to shrink it")
        gone = unmount(where[0].target)
        try:
            return _resize_ext(device, fstype, new, dev_size)
        finally:
            mount(gone.device, gone.target, _remount_options(gone))
    if not where:
        _preen(device, "resizing it")
    undo_ahead(lambda: _resize_undo(Resized(device, fstype, old, new)))  # back to the old size, should this step be cut
    run(["resize2fs", device, f"{new // 1024}K"])
    return Resized(device, fstype, old, new)


def _resize_xfs(device: str, mp: str, target: int | None, read_at: str) -> Resized:
    info = facts.xfs_info(read_at)
    bs, old = info["block_size"], info["size"]
    if target is not None:
        _multiple(target, bs, "filesystem size")
        if target < old:
            raise ValidationError(f"xfs on {device} cannot shrink ({size_text(old)} → {size_text(target)})")
        if target == old:
            return Resized(device, "xfs", old, old)
        run(["xfs_growfs", "-D", str(target // bs), mp])
        return Resized(device, "xfs", old, target)
    run(["xfs_growfs", mp])
    return Resized(device, "xfs", old, facts.xfs_info(read_at)["size"])


BTRFS_RESIZE_MIN = 256 * 1024**2  # the kernel's btrfs_ioctl_resize refuses smaller sizes with EINVAL


def _resize_btrfs(device: str, mp: str, target: int | None, dev_size: int, read_at: str) -> Resized:
    """Resize device ``device`` of the btrfs mounted on ``mp``. Its minimum size is read from the mounted filesystem,
    so a dry run whose mount is only planned (``read_at`` is the device) leaves that check to the run."""
    dev = facts.btrfs_device(read_at, device)
    devid, old = int(dev["devid"]), int(dev["size"])
    new = dev_size // 4096 * 4096 if target is None else target
    _multiple(new, 4096, "filesystem size")
    if new == old:
        return Resized(device, "btrfs", old, old)
    if new < BTRFS_RESIZE_MIN:
        raise ValidationError(f"{device}: the kernel does not resize btrfs below 256 MiB (asked {size_text(new)})")
    if new < old and read_at == mp:
        minimum = facts.btrfs_minimum_size(mp, devid)
        if new < minimum:
            raise ValidationError(f"{device}: {size_text(new)} is below the btrfs minimum of {size_text(minimum)}")
    undo_ahead(lambda: _resize_undo(Resized(device, "btrfs", old, new)))
    run(["btrfs", "filesystem", "resize", f"{devid}:{'max' if target is None else new}", mp])
    return Resized(device, "btrfs", old, new)


def _resize_swap(device: str, target: int | None, dev_size: int) -> Resized:
    if device in facts.active_swaps():
        raise ValidationError(f"{device} is an active swap; swapoff it before resizing")
    found = facts.probe(device)
    new = dev_size if target is None else target
    _multiple(new, 4096, "swap size")
    argv = ["mkswap"]
    if found.get("LABEL"):
        argv += ["-L", found["LABEL"]]
    if found.get("UUID"):
        argv += ["-U", found["UUID"]]
    run([*argv, "--", device, str(new // 1024)])
    return Resized(device, "swap", dev_size, new)


# --- labels and UUIDs ---------------------------------------------------------------------------------------------


def _label_undo(device: str, old: str | None, uuid: str | None) -> Any:
    u = undo(set_label, device, old or "")
    return u.expecting(uuid=uuid) if uuid else u


@operation(inverse=lambda res: _label_undo(res.device, res.old, _fs_uuid(res.device)),
           requires=["e2label|xfs_admin|btrfs|swaplabel"], identify=_identify_fs, effects=effects.label_set)
def set_label(device: PathArg, label: str) -> Relabelled:
    """Set (``""``: clear) the label of the filesystem or swap on ``device``; returns the old label for the undo."""
    device = check_device(device)
    check_label(label, "btrfs")  # the loosest limits: the filesystem's own are checked once it is known
    found = facts.probe(device)
    fstype = found.get("TYPE") or ""
    if fstype not in ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap"):
        raise ValidationError(f"{device} holds {fstype or 'nothing blkid recognises'}; cannot label it")
    label = check_label(label, fstype)
    old = found.get("LABEL")
    undo_ahead(lambda: _label_undo(device, old, found.get("UUID")))
    if fstype in EXT_FAMILY:
        run(["e2label", device, label])
    elif fstype == "xfs":
        if " " in label:
            raise ValidationError(f"label {label!r}: xfs labels cannot contain spaces here (xfs_admin splits them)")
        facts.require_unmounted(device, "labelling xfs")
        run(["xfs_admin", "-L", label or "--", device])
    elif fstype == "btrfs":
        where = facts.mounts_of(device)
        run(["btrfs", "filesystem", "label", where[0].target if where else device, label])
    else:
        run(["swaplabel", "-L", label, device])
    return Relabelled(device, fstype, old, label or None)


def _identify_uuid_change(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Setting the UUID back: done when the filesystem has the old UUID again; the step's filesystem is the one
    with the UUID the step gave it."""
    device = str(args["device"])
    if get_runner().stat(device) is None:
        return already(f"{device} is gone")
    now = _fs_uuid(device)
    if now == args.get("uuid"):
        return already(f"{device} has UUID {now} again")
    if now != identity.get("uuid"):
        return other(f"{device} now holds filesystem {now or '(none)'}, not {identity.get('uuid')}")
    return ACT


def _uuid_back(res: Relabelled) -> Any:
    """Put the old UUID back, on the filesystem that has the new one (a def, not a lambda: mypy types it late)."""
    return undo(set_uuid, res.device, res.old).expecting(uuid=res.new) if res.old else None


@operation(inverse=_uuid_back,
           requires=["tune2fs|xfs_admin|btrfstune|swaplabel"], identify=_identify_uuid_change,
           effects=effects.uuid_set)
def set_uuid(device: PathArg, uuid: str | None = None) -> Relabelled:
    """Give the unmounted filesystem or swap on ``device`` a new UUID (random when None); returns the old one."""
    device = check_device(device)
    new = check_uuid(uuid) if uuid is not None else str(uuidlib.uuid4())
    found = facts.probe(device)
    fstype = found.get("TYPE") or ""
    if fstype not in ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap"):
        raise ValidationError(f"{device} holds {fstype or 'nothing blkid recognises'}; cannot change its UUID")
    facts.require_unmounted(device, "changing its UUID")
    if found.get("UUID"):
        undo_ahead(lambda: undo(set_uuid, device, found["UUID"]).expecting(uuid=new))
    if fstype in EXT_FAMILY:
        _preen(device, "changing its UUID")  # tune2fs -U wants a freshly checked filesystem
        run(["tune2fs", "-U", new, device])
    elif fstype == "xfs":
        run(["xfs_admin", "-U", new, device])
    elif fstype == "btrfs":
        run(["btrfstune", "-f", "-U", new, device])
    else:
        run(["swaplabel", "-U", new, device])
    return Relabelled(device, fstype, found.get("UUID"), new)


# --- mounts -------------------------------------------------------------------------------------------------------


def _resolved_mountpoint(value: Any) -> tuple[str, str]:
    """The mountpoint as given (checked: an existing directory) and with every symlink resolved where commands run."""
    mountpoint = check_directory(value)
    resolved = get_runner().realpath(mountpoint)
    return mountpoint, check_directory(resolved)


def _mount_request(device: Any, mountpoint: Any, options: Any, fstype: Any) -> tuple[str, str, str, tuple[str, ...]]:
    """The checked arguments of ``mount()``: device, mountpoint as given and resolved, options (no command)."""
    device = check_device(device)
    given, resolved = _resolved_mountpoint(mountpoint)
    opts = check_options(options)
    if fstype is not None and not re.fullmatch(r"[a-z0-9_.]+", str(fstype)):
        raise ValidationError(f"filesystem type {fstype!r} is not a plain name")
    return device, given, resolved, opts


def _check_mountpoint(args: Mapping[str, Any]) -> None:
    """Mounting hides what the directory holds: refused on system directories and non-empty ones (resolved)."""
    _, given, resolved, _ = _mount_request(args["device"], args["mountpoint"], args["options"], args["fstype"])
    _refuse_busy(resolved)
    refuse_mountpoint(given, resolved)


def _refuse_busy(mountpoint: str) -> None:
    busy = facts.mount_at(mountpoint)
    if busy is not None:
        raise ValidationError(f"mountpoint {mountpoint} is busy: {busy.source} is mounted there")


def _mount_identity(device: str, target: str) -> dict[str, Any]:
    return ephemeral(target=target, source=device, uuid=_fs_uuid(device))


def _identify_mount(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """A mount is the step's if, in the same boot, what is mounted on the target has the recorded UUID."""
    target = str(args["target"])
    if not same_boot(identity):
        return already(f"the mount on {target} was made before a reboot")
    found = facts.mount_at(target)
    if found is None:
        return already(f"nothing is mounted on {target} any more")
    want = identity.get("uuid")
    now = _fs_uuid(found.device) if found.device.startswith("/dev/") else None
    if (want and now != want) or (not want and not facts._same(found.device, str(identity.get("source")))):
        return other(f"{target} now has {found.source} (UUID {now}) mounted, not {identity.get('source')} "
                     f"(UUID {want})")
    return ACT


def _identify_remount(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Mounting again (the undo of an unmount) is done when the same filesystem is on the target again, and refused
    when another filesystem is there or the device now holds another one."""
    device, target = str(args["device"]), str(args["mountpoint"])
    if not same_boot(identity):
        return already(f"{target} was unmounted before a reboot")
    found = facts.mount_at(target)
    want = identity.get("uuid")
    if found is not None:
        now = _fs_uuid(found.device) if found.device.startswith("/dev/") else None
        if now == want or facts._same(found.device, device):
            return already(f"{found.source} is mounted on {target} again")
        return other(f"{target} now has {found.source} mounted")
    if get_runner().stat(device) is None:
        return other(f"{device} is gone; cannot mount it on {target} again")
    if want and _fs_uuid(device) != want:
        return other(f"{device} now holds filesystem {_fs_uuid(device)}, not {want}")
    return ACT


def _unmount_undo(m: Mount) -> Any:
    return undo(unmount, m.target).expecting(**_mount_identity(m.source, m.target))


@operation(inverse=_unmount_undo, requires=["mount"], target="mountpoint", check=_check_mountpoint,
           identify=_identify_remount, effects=effects.mounted)
def mount(device: PathArg, mountpoint: PathArg, options: Any = (), fstype: str | None = None, *,
          force: bool = False) -> Mount:
    """Mount ``device`` on the existing directory ``mountpoint`` with ``options`` (``["ro", "noatime"]``).

    The mountpoint is resolved first (a symlink is followed, and the mount made on its target); mounting on a system
    directory (``/``, ``/etc``, ``/usr``, …) or a non-empty one hides what is there, so it needs ``force``.
    """
    device, _, mountpoint, opts = _mount_request(device, mountpoint, options, fstype)
    _refuse_busy(mountpoint)
    result = Mount(target=mountpoint, source=device, fstype=fstype or "", options=opts)
    undo_ahead(lambda: _unmount_undo(result))
    argv = ["mount"] + (["-t", fstype] if fstype else []) + (["-o", ",".join(opts)] if opts else [])
    run([*argv, "--", device, mountpoint])
    made = None if get_runner().dry_run else facts.mount_at(mountpoint)
    if made is None:
        return result
    # read back what the kernel mounted (type, options, fs root); source stays the device as it was named
    return Mount(target=mountpoint, source=device, fstype=made.fstype, options=made.options, fsroot=made.fsroot,
                 parent=made.parent)


def _remount_options(m: Mount) -> list[str]:
    opts = ["ro"] if m.read_only else []
    if m.fstype == "btrfs" and m.fsroot and m.fsroot != "/":
        opts.append(f"subvol={m.fsroot.lstrip('/')}")
    return opts


def _remount_undo(m: Mount) -> Any:
    return undo(mount, m.device, m.target, _remount_options(m)).expecting(**_mount_identity(m.device, m.target))


@operation(inverse=_remount_undo, requires=["umount"], identify=_identify_mount, takes_away=True,
           effects=effects.unmounted)
def unmount(target: PathArg) -> Mount:
    """Unmount the filesystem on directory ``target``, or the single mount of device ``target``."""
    from pybofh_core.validate import validate_path

    target = validate_path(target, what="mountpoint or device")
    if checks._kind(target) is None:  # nothing can be mounted on (or from) a path that does not exist
        raise NotFoundError(f"mountpoint or device: {target} does not exist")
    mounts = facts.list_mounts()
    found = facts.mount_at(target, mounts)
    if found is None:
        where = facts.mounts_of(target, mounts)
        if not where:
            raise NotFoundError(f"{target} is not mounted")
        if len(where) > 1:
            raise ValidationError(f"{target} is mounted {len(where)} times ({', '.join(m.target for m in where)}); "
                                  "name the mountpoint")
        found = where[0]
    if found.device.startswith("/dev/"):
        undo_ahead(lambda: _remount_undo(found))
    try:
        run(["umount", "--", found.target])
    except CommandError as exc:
        if "busy" in str(exc.stderr):
            raise ValidationError(f"{found.target} is busy (open files or a process inside it)") from exc
        raise
    return found


# --- stacks ----------------------------------------------------------------------------------------------------------


@operation(composite=True, requires=["losetup", "truncate", "resize2fs", "xfs_growfs", "btrfs"])
def resize_stack(device: PathArg, size: int | str, *, round: str | None = None) -> StackResized:  # noqa: A002
    """Resize ``device`` and everything stacked on it to ``size``; each layer's resize is its own undoable step.

    ``size``: absolute, a multiple of the stack's step (``round="up"|"down"`` rounds any other), or relative to
    the device's current size (``+100M``, ``-1G``; rounded down to the step).
    """
    size_spec(size, what="stack size")  # bad input is refused before the stack is probed
    check_round(round)
    with BlockDeviceStack.open(os.fspath(device)) as stack:
        return stack.resize(size, round)


@operation(composite=True, requires=["losetup|lvresize"])
def grow_device(device: PathArg, size: int | str, *, round: str | None = None) -> StackResized:  # noqa: A002
    """Grow ``device`` itself (an LV, a loop device) and nothing inside it, never probed or opened: a disk a running
    guest owns, whose kernel sees the new size. A shrink is refused. ``size`` as for ``resize_stack``."""
    size_spec(size, what="device size")
    check_round(round)
    return BlockDeviceStack.outer_only(os.fspath(device)).grow(size, round)
