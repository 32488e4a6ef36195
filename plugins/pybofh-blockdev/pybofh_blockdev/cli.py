"""``bofh blockdev``: list devices, make filesystems, mount, unmount and resize (thin wrappers over the API)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pybofh_core.cli import KEY_FILE_HELP, ROUND_HELP, get_context, give_key_files, output, size_argument

app = typer.Typer(no_args_is_help=True, help="Block devices, filesystems, mounts and loop devices.")


def tree_rows(tree: Any) -> list[dict[str, Any]]:
    """One table row per device, NAME indented by depth (multi-parent devices show under each parent)."""
    from pybofh_core.validate import format_size

    rows = []
    for depth, dev in tree.walk():
        name = dev.path or dev.name
        rows.append({
            "name": ("  " * (depth - 1) + "└─" if depth else "") + name,
            "type": dev.type,
            "size": format_size(dev.size) if dev.size is not None else dev.size_text,
            "fstype": dev.fstype,
            "label": dev.label,
            "uuid": dev.uuid,
            "mountpoints": list(dev.mountpoints),
        })
    return rows


@app.command("list")
def list_cmd() -> None:
    """List block devices as a tree (``--json``: nested like lsblk -J, sizes in bytes)."""
    from .facts import list_devices

    tree = list_devices()
    output(tree.to_json() if get_context().json else tree_rows(tree))


@app.command("show")
def show_cmd(device: str) -> None:
    """Show one block device as lsblk sees it (sizes in bytes; PARENTS and CHILDREN name devices)."""
    from .checks import check_device
    from .facts import get_device

    output(get_device(check_device(device)))


@app.command("probe")
def probe_cmd(device: str) -> None:
    """Show what DEVICE holds, read from the device itself (blkid -p): TYPE, USAGE, UUID, LABEL… (nothing when blkid
    finds no signature)."""
    from .facts import probe

    output(probe(device))


@app.command("size")
def size_cmd(device: str) -> None:
    """Print the size of DEVICE in bytes (blockdev --getsize64)."""
    from .facts import get_size

    output(get_size(device))


@app.command("mounts")
def mounts_cmd(
    target: Annotated[str | None, typer.Argument(help="Only where this device is mounted, or what is mounted on "
                                                      "this directory.")] = None,
) -> None:
    """List mounted filesystems (findmnt), parents before children."""
    from pybofh_core.validate import validate_path

    from .facts import list_mounts, mount_at, mounts_of

    if target is not None:
        target = validate_path(target, what="device or directory", must_exist=True)
    mounts = list_mounts()
    if target is not None:
        on = mount_at(target, mounts)
        mounts = mounts_of(target, mounts) or ([on] if on is not None else [])
    output(mounts, columns=["target", "source", "fstype", "options"])


@app.command("mkfs")
def mkfs_cmd(
    device: str,
    fstype: Annotated[str, typer.Option("--type", "-t", help="ext4, ext3, ext2, xfs, btrfs or swap.")] = "ext4",
    label: Annotated[str | None, typer.Option("--label", "-L", help="Filesystem label.")] = None,
    uuid: Annotated[str | None, typer.Option("--uuid", "-U", help="Filesystem UUID (default: random).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing filesystem or signature.")] = False,
) -> None:
    """Make a filesystem on DEVICE (refuses a mounted device, and one holding data unless --force)."""
    from .ops import create_filesystem

    output(create_filesystem(device, fstype, label=label, force=force, uuid=uuid))


@app.command("mount")
def mount_cmd(
    device: str,
    mountpoint: str,
    options: Annotated[str, typer.Option("--options", "-o", help="Comma-separated mount options.")] = "",
    force: Annotated[bool, typer.Option("--force", help="Mount although MOUNTPOINT is a system directory or not "
                                                         "empty (its files are hidden while mounted).")] = False,
) -> None:
    """Mount DEVICE on the existing directory MOUNTPOINT (symlinks resolved; a system directory or a non-empty one
    is refused unless --force)."""
    from .ops import mount

    output(mount(device, mountpoint, options, force=force))


@app.command("umount")
def umount_cmd(target: Annotated[str, typer.Argument(help="Mountpoint, or a device mounted once.")]) -> None:
    """Unmount a mountpoint (or the one mount of a device)."""
    from .ops import unmount

    output(unmount(target))


@app.command("resize")
def resize_cmd(
    device: str,
    size: Annotated[str | None, typer.Argument(
        help="New size (10G, 512M, bytes; +100M; after --: -1G), or 'max' with --filesystem-only.")] = None,
    filesystem_only: Annotated[
        bool, typer.Option("--filesystem-only", help="Resize only the filesystem on DEVICE, not DEVICE itself.")
    ] = False,
    key_files: Annotated[list[str] | None, typer.Option("--key-file", metavar="FILE|-", help=KEY_FILE_HELP)] = None,
    grow_by: Annotated[str | None, typer.Option("--grow-by", help="Grow by this much (same as SIZE +N).")] = None,
    shrink_by: Annotated[str | None, typer.Option("--shrink-by", help="Shrink by this much (SIZE -N).")] = None,
    round_: Annotated[str | None, typer.Option("--round", metavar="up|down", help=ROUND_HELP)] = None,
) -> None:
    """Resize DEVICE and the layers on it (grow outer→inner, shrink inner→outer); rolled back if a step fails.

    An open LUKS mapping on the stack is used whatever its name; a closed one is opened with a key from the key
    providers or --key-file (and closed again).
    """
    from .ops import resize_filesystem, resize_stack

    size = size_argument(size, grow_by, shrink_by)
    give_key_files(key_files)  # for the steps and for the block's rollback
    # each layer's resize is a step of the command's atomic block (opened by the core): a failure undoes the others
    if filesystem_only:
        output(resize_filesystem(device, None if size == "max" else size, temp_mount=True))
    else:
        output(resize_stack(device, size, round=round_))


loop_app = typer.Typer(no_args_is_help=True, help="Loop devices: attach a file, detach, resize.")
app.add_typer(loop_app, name="loop")


@loop_app.command("list")
def loop_list_cmd() -> None:
    """List attached loop devices and their backing files."""
    from .facts import list_loops

    output(list_loops())


@loop_app.command("show")
def loop_show_cmd(device: str) -> None:
    """Show the attached loop DEVICE: backing file, offset, size limit, read-only."""
    from .checks import check_loop_device
    from .facts import get_loop

    output(get_loop(check_loop_device(device)))


@loop_app.command("attach")
def loop_attach_cmd(
    file: str,
    device: Annotated[str | None, typer.Option("--device", help="This /dev/loopN (default: the first free one).")
                      ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Attach read-only.")] = False,
    partscan: Annotated[bool, typer.Option("--partscan", help="Scan the file's partition table.")] = False,
) -> None:
    """Attach the regular file FILE to a loop device and print it (undo: detach)."""
    from .ops import attach_loop

    output(attach_loop(file, device=device, read_only=read_only, partscan=partscan))


@loop_app.command("detach")
def loop_detach_cmd(device: str) -> None:
    """Detach loop DEVICE (refused while it is mounted or something is stacked on it)."""
    from .ops import detach_loop

    output(detach_loop(device))


@loop_app.command("resize")
def loop_resize_cmd(
    device: str,
    size: Annotated[str, typer.Argument(help="New size of the backing file (10G, bytes).")],
    force: Annotated[bool, typer.Option("--force", help="Shrink although pybofh found data it would cut off.")
                     ] = False,
) -> None:
    """Resize loop DEVICE's backing file and let the kernel see the new size (a shrink checks the content first)."""
    from .ops import resize_loop

    output(resize_loop(device, size, force=force))


@app.command("label")
def label_cmd(device: str, label: str) -> None:
    """Set the label of the filesystem on DEVICE (undo: the old label)."""
    from .ops import set_label

    output(set_label(device, label))


@app.command("uuid")
def uuid_cmd(
    device: str,
    uuid: Annotated[str | None, typer.Argument(help="The new UUID (default: a random one).")] = None,
) -> None:
    """Set the UUID of the filesystem on DEVICE (undo: the old UUID)."""
    from .ops import set_uuid

    output(set_uuid(device, uuid))


@app.command("fsck")
def fsck_cmd(
    device: str,
    repair: Annotated[bool, typer.Option("--repair", help="Repair what the check finds (e2fsck -y, xfs_repair); "
                                                           "never btrfs.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Repair although the read-only check found errors (a "
                                                         "repair may delete damaged files).")] = False,
) -> None:
    """Check the unmounted filesystem on DEVICE read-only; --repair repairs it (exit 1 when errors are left)."""
    from .ops import check_filesystem, repair_filesystem
    from .types import FsckStatus

    result = repair_filesystem(device, force=force) if repair else check_filesystem(device)
    output(result)
    if result.status is FsckStatus.ERRORS:  # exit 1: the check ran and changed nothing, or the repair fell short
        from pybofh_core.errors import PybofhError

        raise PybofhError(f"{result.device}: {result.fstype} {'repair' if repair else 'check'} left errors "
                          f"(exit {result.returncode})")


# --- TAB completion (read by bofh when it loads this app; see pybofh_core.cli.attach_completers) -----------------


def _devices(ctx: object, incomplete: str) -> list[str]:
    from .facts import list_devices

    return [dev.path for dev in list_devices() if dev.path]


def _mounted(ctx: object, incomplete: str) -> list[str]:
    from .facts import list_mounts

    mounts = list_mounts()
    return [m.target for m in mounts] + [m.device for m in mounts if m.device.startswith("/dev/")]


COMPLETERS = {"device": _devices, "target": _mounted}  # "device" also completes loop detach|resize


#: Public facts (readers) without a command of their own, and why (tests/test_cli_coverage.py)
#: Operations without a command of their own, and why
NOT_IN_CLI = {
    "xfs_stays_grown": "undo-only: the rollback of an xfs grow, which reports that the filesystem keeps its size",
    "grow_device": "inner step of 'bofh xen resize-disk' of a running domU (the guest grows its own content)",
}

FACTS_NOT_IN_CLI = {
    "is_mounted": "a predicate 'mounts DEVICE|DIR' answers: it lists the mounts, none when nothing is mounted",
}
