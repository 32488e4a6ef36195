"""pybofh-blockdev: block devices, filesystems, mounts, loop devices and the layer stack model."""

from __future__ import annotations

from pybofh_core import hookimpl


@hookimpl
def pybofh_register_operations(registry) -> None:  # type: ignore[no-untyped-def]
    """Register this plugin's operations (filled in by its issue)."""
