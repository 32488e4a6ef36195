"""pybofh-blockdev: block devices, filesystems, mounts, loop devices and the layer stack model.

Only hook implementations live here; the public API (``blockdev.create_filesystem``, ``blockdev.MountPool``…) is
re-exported lazily so importing the plugin stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pybofh_core.layers import Layer

_API = {
    # operations
    "attach_loop": "ops", "detach_loop": "ops", "resize_loop": "ops", "create_filesystem": "ops",
    "createFilesystem": "ops", "check_filesystem": "ops", "resize_filesystem": "ops", "set_label": "ops",
    "set_uuid": "ops", "mount": "ops", "unmount": "ops", "MountPoolExhaustedError": "ops",
    "FilesystemErrorsLeft": "ops",
    # facts
    "list_devices": "facts", "get_device": "facts", "probe": "facts", "get_size": "facts", "list_mounts": "facts",
    "mounts_of": "facts", "is_mounted": "facts", "list_loops": "facts", "get_loop": "facts",
    # mounts as context managers
    "Mounted": "mountpool", "MountPool": "mountpool",
    # layers
    "BlockDeviceStack": "layers", "resize_stack": "layers", "LoopDeviceLayer": "layers",
    "FilesystemLayer": "layers",
    # parsers and types
    "parse_lsblk": "parsers", "parse_blkid": "parsers", "parse_findmnt": "parsers",
    "BlockDevice": "types", "DeviceTree": "types", "Mount": "types", "Probe": "types", "LoopDevice": "types",
    "MountUsage": "types",
    # bofh status: every mount's size, used and available bytes from one findmnt
    "list_mount_usage": "status", "parse_findmnt_usage": "status",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'pybofh_blockdev' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])


@hookimpl
def pybofh_register_operations(registry: Any) -> None:
    """Register the loop, filesystem, label, mount and stack operations under the domain ``blockdev``."""
    registry.add_module("blockdev", "pybofh_blockdev.ops")  # imported when a blockdev operation is first needed
    registry.add_module("blockdev", "pybofh_blockdev.layers")  # resize_stack


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
    from .status import sections

    return sections()
