"""pybofh-lvm: LVM physical volumes, volume groups and logical volumes (hookimpls only; the API loads lazily)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pybofh_core import hookimpl


@hookimpl
def pybofh_register_operations(registry: Any) -> None:
    """Register every LVM operation (and the seed's camelCase aliases) under the domain ``lvm``."""
    registry.add_module("lvm", "pybofh_lvm.ops")  # imported when an lvm operation is first needed


@hookimpl
def pybofh_register_cli(registry: Any) -> None:
    """Add ``bofh lvm pv|vg|lv …``; the CLI module is imported only when that command runs."""
    registry.add("lvm", "pybofh_lvm.cli:app", help="LVM physical volumes, volume groups and logical volumes.")


@hookimpl
def pybofh_probe_device(device: str) -> Any:
    """An LV as a resizable device whose granularity is its VG's extent size; None for other devices."""
    from .layers import probe_device

    return probe_device(device)


@hookimpl
def pybofh_probe_layer(device: str, probe: Mapping[str, str]) -> Any:
    """A PV label (``TYPE=LVM2_member``) as the content of a device; None otherwise."""
    from .layers import probe_layer

    return probe_layer(device, dict(probe))


@hookimpl
def pybofh_probe_status() -> list[Any]:
    """``bofh status``: PVs, VGs with their free space, and LVs, from one ``lvm fullreport``."""
    from .status import sections

    return sections()


_API = {
    **dict.fromkeys(
        ["create_pv", "remove_pv", "resize_pv", "create_vg", "remove_vg", "destroy_vg", "extend_vg", "reduce_vg",
         "create_lv", "create_thin_pool", "create_thin_lv", "snapshot_lv", "remove_lv", "destroy_lv", "resize_lv",
         "rename_lv", "activate_lv", "deactivate_lv", "createLV", "removeLV", "createPV", "removePV", "createVG",
         "removeVG"], "ops"),
    **dict.fromkeys(
        ["list_pvs", "list_vgs", "list_lvs", "full_report", "get_pv", "get_vg", "get_lv", "is_pv", "getVGs",
         "getLVs"], "facts"),
    **dict.fromkeys(["parse_pvs", "parse_vgs", "parse_lvs", "parse_fullreport"], "parse"),
    **dict.fromkeys(["PhysicalVolume", "VolumeGroup", "LogicalVolume", "FullReport", "LvKind", "LvState"], "types"),
    **dict.fromkeys(["LvmError", "LvNotFoundError", "VgNotFoundError", "PvNotFoundError", "ExtentSizeError"], "errors"),
}
_ALIASES = {"createLV": "create_lv", "removeLV": "remove_lv", "createPV": "create_pv", "removePV": "remove_pv",
            "createVG": "create_vg", "removeVG": "remove_vg"}


def __getattr__(name: str) -> Any:
    """``from pybofh import lvm; lvm.create_lv(...)``: load the module that defines ``name`` on first use."""
    if name in _API:
        from importlib import import_module

        module = import_module(f".{_API[name]}", __name__)
        return getattr(module, _ALIASES.get(name, name))
    raise AttributeError(f"module 'pybofh_lvm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
