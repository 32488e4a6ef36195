"""pybofh-btrfs: btrfs subvolumes, snapshots, send/receive, balance and scrub."""

from __future__ import annotations

from pybofh_core import hookimpl


@hookimpl
def pybofh_register_operations(registry) -> None:  # type: ignore[no-untyped-def]
    """Register this plugin's operations (filled in by its issue)."""
