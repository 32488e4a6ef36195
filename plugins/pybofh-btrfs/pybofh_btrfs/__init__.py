"""pybofh-btrfs: btrfs subvolumes, snapshots, send/receive, rotation, balance and scrub.

Only hook implementations live here (cheap to import); the API is re-exported lazily:
``from pybofh import btrfs; btrfs.snapshot("/mnt/@", "/mnt/snaps/x", readonly=True)``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pybofh_core import hookimpl

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
    from .status import sections

    return sections()


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'pybofh_btrfs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
