"""pybofh-xen: Xen domUs with xl."""

from __future__ import annotations

from pybofh_core import hookimpl


@hookimpl
def pybofh_register_operations(registry) -> None:  # type: ignore[no-untyped-def]
    """Register this plugin's operations (filled in by its issue)."""
