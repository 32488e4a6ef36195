"""pybofh-blockdev: block devices, filesystems, mounts, loop devices and the layer stack model.

Only hook implementations live here; the public API (``blockdev.create_filesystem``, ``blockdev.MountPool``…) is
re-exported lazily so importing the plugin stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl
from pybofh_core.lazy import lazy_api

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pybofh_core.layers import Layer

_API = {
    # operations
    "attach_loop": "ops", "detach_loop": "ops", "resize_loop": "ops", "create_filesystem": "ops",
    "createFilesystem": "ops", "check_filesystem": "ops", "resize_filesystem": "ops", "set_label": "ops",
    "set_uuid": "ops", "mount": "ops", "unmount": "ops",
    # errors
    "BlockdevError": "errors", "MountPoolExhaustedError": "errors", "FilesystemErrorsLeftError": "errors",
    "FilesystemErrorsLeft": "errors",
    # facts
    "list_devices": "facts", "get_device": "facts", "probe": "facts", "get_size": "facts", "list_mounts": "facts",
    "mounts_of": "facts", "is_mounted": "facts", "list_loops": "facts", "get_loop": "facts",
    # mounts as context managers
    "Mounted": "mountpool", "MountPool": "mountpool",
    # layers
    "BlockDeviceStack": "layers", "resize_stack": "ops", "LoopDeviceLayer": "layers",
    "FilesystemLayer": "layers",
    # parsers and types
    "parse_lsblk": "parsers", "parse_blkid": "parsers", "parse_findmnt": "parsers",
    "BlockDevice": "types", "DeviceTree": "types", "Mount": "types", "Probe": "types", "LoopDevice": "types",
    "MountUsage": "types",
    # bofh status: every mount's size, used and available bytes from one findmnt
    "list_mount_usage": "bofh_status", "parse_findmnt_usage": "bofh_status",
    **dict.fromkeys(
        ["FsckStatus", "FsckResult", "Filesystem", "Resized", "Relabelled"], "types"),
}


__all__ = list(_API)  # help() (pydoc) documents these, each loaded through __getattr__

if TYPE_CHECKING:
    # ``_API`` spelled out for type checkers (nothing of it is imported at run time): ``import x as x``
    # re-exports ``x``. tests/test_typed_api.py checks that these name what ``__getattr__`` returns.
    from .bofh_status import list_mount_usage as list_mount_usage
    from .bofh_status import parse_findmnt_usage as parse_findmnt_usage
    from .errors import BlockdevError as BlockdevError
    from .errors import FilesystemErrorsLeft as FilesystemErrorsLeft
    from .errors import FilesystemErrorsLeftError as FilesystemErrorsLeftError
    from .errors import MountPoolExhaustedError as MountPoolExhaustedError
    from .facts import get_device as get_device
    from .facts import get_loop as get_loop
    from .facts import get_size as get_size
    from .facts import is_mounted as is_mounted
    from .facts import list_devices as list_devices
    from .facts import list_loops as list_loops
    from .facts import list_mounts as list_mounts
    from .facts import mounts_of as mounts_of
    from .facts import probe as probe
    from .layers import BlockDeviceStack as BlockDeviceStack
    from .layers import FilesystemLayer as FilesystemLayer
    from .layers import LoopDeviceLayer as LoopDeviceLayer
    from .mountpool import Mounted as Mounted
    from .mountpool import MountPool as MountPool
    from .ops import attach_loop as attach_loop
    from .ops import check_filesystem as check_filesystem
    from .ops import create_filesystem as create_filesystem
    from .ops import createFilesystem as createFilesystem
    from .ops import detach_loop as detach_loop
    from .ops import mount as mount
    from .ops import resize_filesystem as resize_filesystem
    from .ops import resize_loop as resize_loop
    from .ops import resize_stack as resize_stack
    from .ops import set_label as set_label
    from .ops import set_uuid as set_uuid
    from .ops import unmount as unmount
    from .parsers import parse_blkid as parse_blkid
    from .parsers import parse_findmnt as parse_findmnt
    from .parsers import parse_lsblk as parse_lsblk
    from .types import BlockDevice as BlockDevice
    from .types import DeviceTree as DeviceTree
    from .types import Filesystem as Filesystem
    from .types import FsckResult as FsckResult
    from .types import FsckStatus as FsckStatus
    from .types import LoopDevice as LoopDevice
    from .types import Mount as Mount
    from .types import MountUsage as MountUsage
    from .types import Probe as Probe
    from .types import Relabelled as Relabelled
    from .types import Resized as Resized


__getattr__, __dir__ = lazy_api(__name__, _API)  # the API loads on first use (pybofh_core.lazy)


@hookimpl
def pybofh_register_operations(registry: Any) -> None:
    """Register the loop, filesystem, label, mount and stack operations under the domain ``blockdev``."""
    registry.add_module("blockdev", "pybofh_blockdev.ops")  # imported when a blockdev operation is first needed


@hookimpl
def pybofh_register_cli(registry: Any) -> None:
    """Add ``bofh blockdev`` (imported only when that sub-command runs)."""
    registry.add("blockdev", "pybofh_blockdev.cli:app", help="Block devices, filesystems, mounts and loop devices.")


@hookimpl
def pybofh_probe_device(device: str) -> Layer | None:
    """A loop device is a resizable container (its backing file grows or shrinks); other devices are not ours."""
    from .layers import device_layer

    return device_layer(device)


@hookimpl(trylast=True)
def pybofh_probe_layer(device: str, probe: Mapping[str, str]) -> Layer | None:
    """The generic answer: a filesystem/swap leaf, empty content, or unknown content nobody can resize."""
    from .layers import layer_for_probe

    return layer_for_probe(device, probe)


@hookimpl
def pybofh_probe_status() -> list[Any]:
    """``bofh status``: the block-device tree, and filesystems with size, used, free and mountpoints."""
    from .bofh_status import sections

    return sections()
