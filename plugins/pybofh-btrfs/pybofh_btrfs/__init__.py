"""pybofh-btrfs: btrfs subvolumes, snapshots, send/receive, rotation, balance and scrub.

Only hook implementations live here (cheap to import); the API is re-exported lazily:
``from pybofh import btrfs; btrfs.snapshot("/mnt/@", "/mnt/snaps/x", readonly=True)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl
from pybofh_core.lazy import lazy_api

_API = {
    # operations (ops.py)
    "create_subvolume": "ops", "delete_subvolume": "ops", "snapshot": "ops", "set_default_subvolume": "ops",
    "send": "ops", "receive": "ops", "send_receive": "ops", "remove_stream": "ops", "rotate_snapshots": "ops",
    "list_rotation_snapshots": "ops", "start_balance": "ops", "cancel_balance": "ops", "start_scrub": "ops",
    "cancel_scrub": "ops", "ROTATE_DATE_FORMAT": "ops",
    # readers (facts.py)
    "list_subvolumes": "facts", "get_subvolume": "facts", "get_default_subvolume": "facts", "subvolume_id": "facts",
    "is_readonly": "facts", "filesystem_usage": "facts", "filesystem_df": "facts", "filesystem_show": "facts",
    "device_usage": "facts", "device_stats": "facts", "list_qgroups": "facts", "scrub_status": "facts",
    "balance_status": "facts", "watch_balance": "facts", "watch_scrub": "facts",
    # errors
    "BtrfsError": "errors", "NotASubvolumeError": "errors", "SubvolumeNotFoundError": "errors",
    **dict.fromkeys(
        ["Subvolume", "SubvolumeDetails", "FilesystemDevice", "Filesystem", "FilesystemShow", "SpaceInfo",
         "FilesystemDf", "UsageProfile", "FilesystemUsage", "DeviceUsage", "DeviceStats", "Qgroup", "ScrubState",
         "ScrubStatus", "BalanceState", "BalanceStatus", "MountEntry", "CreatedSubvolume", "DefaultChange",
         "SendStream", "Rotation", "JobStarted"], "types"),
}


@hookimpl
def pybofh_register_operations(registry: Any) -> None:
    """Register the btrfs operations (each with its inverse or irreversible reason) under the domain ``btrfs``."""
    registry.add_module("btrfs", "pybofh_btrfs.ops")  # imported when a btrfs operation is first needed


@hookimpl
def pybofh_register_cli(registry: Any) -> None:
    """Add ``bofh btrfs …``; the typer app is imported only when that sub-command runs."""
    registry.add("btrfs", "pybofh_btrfs.cli:app",
                 help="btrfs subvolumes, snapshots, rotation, send/receive, balance and scrub.")


@hookimpl
def pybofh_probe_status() -> list[Any]:
    """``bofh status``: each mounted btrfs filesystem with its subvolume and snapshot counts."""
    from .bofh_status import sections

    return sections()


__all__ = list(_API)  # help() (pydoc) documents these, each loaded through __getattr__

if TYPE_CHECKING:
    # ``_API`` spelled out for type checkers (nothing of it is imported at run time): ``import x as x``
    # re-exports ``x``. tests/test_typed_api.py checks that these name what ``__getattr__`` returns.
    from .errors import BtrfsError as BtrfsError
    from .errors import NotASubvolumeError as NotASubvolumeError
    from .errors import SubvolumeNotFoundError as SubvolumeNotFoundError
    from .facts import balance_status as balance_status
    from .facts import device_stats as device_stats
    from .facts import device_usage as device_usage
    from .facts import filesystem_df as filesystem_df
    from .facts import filesystem_show as filesystem_show
    from .facts import filesystem_usage as filesystem_usage
    from .facts import get_default_subvolume as get_default_subvolume
    from .facts import get_subvolume as get_subvolume
    from .facts import is_readonly as is_readonly
    from .facts import list_qgroups as list_qgroups
    from .facts import list_subvolumes as list_subvolumes
    from .facts import scrub_status as scrub_status
    from .facts import subvolume_id as subvolume_id
    from .facts import watch_balance as watch_balance
    from .facts import watch_scrub as watch_scrub
    from .ops import ROTATE_DATE_FORMAT as ROTATE_DATE_FORMAT
    from .ops import cancel_balance as cancel_balance
    from .ops import cancel_scrub as cancel_scrub
    from .ops import create_subvolume as create_subvolume
    from .ops import delete_subvolume as delete_subvolume
    from .ops import list_rotation_snapshots as list_rotation_snapshots
    from .ops import receive as receive
    from .ops import remove_stream as remove_stream
    from .ops import rotate_snapshots as rotate_snapshots
    from .ops import send as send
    from .ops import send_receive as send_receive
    from .ops import set_default_subvolume as set_default_subvolume
    from .ops import snapshot as snapshot
    from .ops import start_balance as start_balance
    from .ops import start_scrub as start_scrub
    from .types import BalanceState as BalanceState
    from .types import BalanceStatus as BalanceStatus
    from .types import CreatedSubvolume as CreatedSubvolume
    from .types import DefaultChange as DefaultChange
    from .types import DeviceStats as DeviceStats
    from .types import DeviceUsage as DeviceUsage
    from .types import Filesystem as Filesystem
    from .types import FilesystemDevice as FilesystemDevice
    from .types import FilesystemDf as FilesystemDf
    from .types import FilesystemShow as FilesystemShow
    from .types import FilesystemUsage as FilesystemUsage
    from .types import JobStarted as JobStarted
    from .types import MountEntry as MountEntry
    from .types import Qgroup as Qgroup
    from .types import Rotation as Rotation
    from .types import ScrubState as ScrubState
    from .types import ScrubStatus as ScrubStatus
    from .types import SendStream as SendStream
    from .types import SpaceInfo as SpaceInfo
    from .types import Subvolume as Subvolume
    from .types import SubvolumeDetails as SubvolumeDetails
    from .types import UsageProfile as UsageProfile


__getattr__, __dir__ = lazy_api(__name__, _API)  # the API loads on first use (pybofh_core.lazy)
