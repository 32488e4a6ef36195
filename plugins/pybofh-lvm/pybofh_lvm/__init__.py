"""pybofh-lvm: LVM physical volumes, volume groups and logical volumes (hookimpls only; the API loads lazily)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl
from pybofh_core.lazy import Target, lazy_api


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
    from .bofh_status import sections

    return sections()


#: the seed's names of operations (``lvm.createLV`` is ``lvm.create_lv``)
_ALIASES = {"createLV": "create_lv", "removeLV": "remove_lv", "createPV": "create_pv", "removePV": "remove_pv",
            "createVG": "create_vg", "removeVG": "remove_vg"}
#: name → the module that defines it, or (module, attribute) for an alias: ``pybofh_core.lazy.lazy_api`` serves it
_API: dict[str, Target] = {
    **dict.fromkeys(
        ["create_pv", "remove_pv", "resize_pv", "create_vg", "remove_vg", "destroy_vg", "extend_vg", "reduce_vg",
         "create_lv", "create_thin_pool", "create_thin_lv", "snapshot_lv", "remove_lv", "destroy_lv", "resize_lv",
         "rename_lv", "activate_lv", "deactivate_lv"], "ops"),
    **{alias: ("ops", target) for alias, target in _ALIASES.items()},
    **dict.fromkeys(
        ["list_pvs", "list_vgs", "list_lvs", "full_report", "get_pv", "get_vg", "get_lv", "is_pv", "getVGs",
         "getLVs"], "facts"),
    **dict.fromkeys(["parse_pvs", "parse_vgs", "parse_lvs", "parse_fullreport"], "parsers"),
    **dict.fromkeys(["PhysicalVolume", "VolumeGroup", "LogicalVolume", "FullReport", "LvKind", "LvState"], "types"),
    **dict.fromkeys(["LvmError", "LvNotFoundError", "VgNotFoundError", "PvNotFoundError", "ExtentSizeError"], "errors"),
    **dict.fromkeys(
        ["PvCreated", "VgCreated", "VgExtended", "LvResized", "PvResized", "LvRenamed", "LvActivation"], "types"),
}


__all__ = list(_API)  # help() (pydoc) documents these, each loaded through __getattr__

if TYPE_CHECKING:
    # ``_API`` spelled out for type checkers (nothing of it is imported at run time): ``import x as x``
    # re-exports ``x``. tests/test_typed_api.py checks that these name what ``__getattr__`` returns.
    from .errors import ExtentSizeError as ExtentSizeError
    from .errors import LvmError as LvmError
    from .errors import LvNotFoundError as LvNotFoundError
    from .errors import PvNotFoundError as PvNotFoundError
    from .errors import VgNotFoundError as VgNotFoundError
    from .facts import full_report as full_report
    from .facts import get_lv as get_lv
    from .facts import get_pv as get_pv
    from .facts import get_vg as get_vg
    from .facts import getLVs as getLVs
    from .facts import getVGs as getVGs
    from .facts import is_pv as is_pv
    from .facts import list_lvs as list_lvs
    from .facts import list_pvs as list_pvs
    from .facts import list_vgs as list_vgs
    from .ops import activate_lv as activate_lv
    from .ops import create_lv as create_lv
    from .ops import create_pv as create_pv
    from .ops import create_thin_lv as create_thin_lv
    from .ops import create_thin_pool as create_thin_pool
    from .ops import create_vg as create_vg
    from .ops import deactivate_lv as deactivate_lv
    from .ops import destroy_lv as destroy_lv
    from .ops import destroy_vg as destroy_vg
    from .ops import extend_vg as extend_vg
    from .ops import reduce_vg as reduce_vg
    from .ops import remove_lv as remove_lv
    from .ops import remove_pv as remove_pv
    from .ops import remove_vg as remove_vg
    from .ops import rename_lv as rename_lv
    from .ops import resize_lv as resize_lv
    from .ops import resize_pv as resize_pv
    from .ops import snapshot_lv as snapshot_lv
    from .parsers import parse_fullreport as parse_fullreport
    from .parsers import parse_lvs as parse_lvs
    from .parsers import parse_pvs as parse_pvs
    from .parsers import parse_vgs as parse_vgs
    from .types import FullReport as FullReport
    from .types import LogicalVolume as LogicalVolume
    from .types import LvKind as LvKind
    from .types import LvState as LvState
    from .types import PhysicalVolume as PhysicalVolume
    from .types import VolumeGroup as VolumeGroup

    # the seed's names and other aliases: ``import x as y`` is re-exported only through ``__all__``
    __all__ += ["createLV", "removeLV", "createPV", "removePV", "createVG", "removeVG"]
    from .ops import create_lv as createLV
    from .ops import create_pv as createPV
    from .ops import create_vg as createVG
    from .ops import remove_lv as removeLV
    from .ops import remove_pv as removePV
    from .ops import remove_vg as removeVG
    from .types import LvActivation as LvActivation
    from .types import LvRenamed as LvRenamed
    from .types import LvResized as LvResized
    from .types import PvCreated as PvCreated
    from .types import PvResized as PvResized
    from .types import VgCreated as VgCreated
    from .types import VgExtended as VgExtended


__getattr__, __dir__ = lazy_api(__name__, _API)  # the API loads on first use (pybofh_core.lazy)
