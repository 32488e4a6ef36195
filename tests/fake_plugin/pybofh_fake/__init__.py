"""A third-party pybofh plugin for tests: its 'resources' are marker files, created and removed with real commands."""

from __future__ import annotations

from typing import Any

from pybofh_core import hookimpl


@hookimpl
def pybofh_register_operations(registry: Any) -> None:
    """Register the marker-file operations under the domain ``fake``."""
    from . import ops

    registry.add_module("fake", ops)


def __getattr__(name: str) -> Any:
    if name in ("create_marker", "remove_marker", "chmod_marker", "empty_marker", "fail", "hang"):
        from . import ops

        return getattr(ops, name)
    raise AttributeError(name)
