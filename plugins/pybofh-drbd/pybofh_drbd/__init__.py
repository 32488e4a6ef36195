"""pybofh-drbd: DRBD replicated block devices (``drbdadm`` operations with inverses, typed status and config).

Hookimpls only; ``ops``/``facts``/``cli`` are imported when a hook or an attribute needs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl

if TYPE_CHECKING:
    from pybofh_core.cli_registry import CliRegistry
    from pybofh_core.layers import Layer
    from pybofh_core.operations import OperationRegistry
    from pybofh_core.settings import SettingsRegistry

_DRBD_DEVICE = re.compile(r"^/dev/drbd(\d+)$")


@hookimpl
def pybofh_register_operations(registry: OperationRegistry) -> None:
    """Register up/down, primary/secondary, connect/disconnect, attach/detach, create_md, adjust, verify…"""
    registry.add_module("drbd", "pybofh_drbd.ops")  # imported when a drbd operation is first needed


@hookimpl
def pybofh_register_settings(registry: SettingsRegistry) -> None:
    """Declare the ``drbd`` settings (config file, base minor and port, poll interval)."""
    from .settings import DrbdSettings

    registry.add("drbd", DrbdSettings)


@hookimpl
def pybofh_register_cli(registry: CliRegistry) -> None:
    """Add ``bofh drbd``."""
    registry.add("drbd", "pybofh_drbd.cli:app", help="DRBD resources: status, up/down, primary/secondary, wait-sync.")


@hookimpl
def pybofh_probe_device(device: str) -> Layer | None:
    """A /dev/drbdN device is a DRBD device layer (resized with ``drbdadm resize``); anything else is not ours."""
    m = _DRBD_DEVICE.match(str(device))
    if m is None:
        return None
    from .layers import DrbdDevice

    return DrbdDevice(str(device), int(m.group(1)))


@hookimpl
def pybofh_probe_layer(device: str, probe: Mapping[str, str]) -> Layer | None:
    """A device blkid reports as ``TYPE=drbd`` holds DRBD metadata: it opens to its resource's /dev/drbdN."""
    if probe.get("TYPE") != "drbd":
        return None
    from .layers import DrbdBacking

    return DrbdBacking(str(device), probe.get("VERSION"))


@hookimpl
def pybofh_probe_status() -> list[Any]:
    """``bofh status``: every DRBD resource that is up, with its role, disk and peers' states."""
    from .status import sections

    return sections()


_API = {
    **{n: "ops" for n in ("up", "down", "primary", "secondary", "connect", "disconnect", "attach", "detach",
                          "create_md", "adjust", "verify", "invalidate", "pause_sync", "resume_sync", "resize")},
    **{n: "facts" for n in ("status", "is_up", "wait_synced", "list_resources", "read_config", "resource_config",
                            "read_proc_drbd", "next_free_minor", "next_free_port", "minors", "backing_disks")},
    **{n: "parsers" for n in ("parse_proc_drbd", "parse_status_json", "parse_status_text", "parse_events2",
                              "resources_from_events", "parse_config", "parse_show_json")},
    **{n: "types" for n in ("DrbdResource", "DrbdConfig", "ResourceConfig", "Role", "DiskState", "ConnectionState",
                            "ReplicationState")},
}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'pybofh_drbd' has no attribute {name!r}")
