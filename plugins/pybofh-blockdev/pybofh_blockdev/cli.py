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
    from .layers import resize_stack
    from .ops import resize_filesystem

    size = size_argument(size, grow_by, shrink_by)
    give_key_files(key_files)  # for the steps and for the block's rollback
    # each layer's resize is a step of the command's atomic block (opened by the core): a failure undoes the others
    if filesystem_only:
        output(resize_filesystem(device, None if size == "max" else size, temp_mount=True))
    else:
        output(resize_stack(device, size, round=round_))


# --- TAB completion (read by bofh when it loads this app; see pybofh_core.cli.attach_completers) -----------------


def _devices(ctx: object, incomplete: str) -> list[str]:
    from .facts import list_devices

    return [dev.path for dev in list_devices() if dev.path]


def _mounted(ctx: object, incomplete: str) -> list[str]:
    from .facts import list_mounts

    mounts = list_mounts()
    return [m.target for m in mounts] + [m.device for m in mounts if m.device.startswith("/dev/")]


COMPLETERS = {"device": _devices, "target": _mounted}
