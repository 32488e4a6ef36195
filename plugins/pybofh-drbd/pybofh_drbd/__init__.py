"""pybofh-drbd: DRBD replicated block devices (``drbdadm`` operations with inverses, typed status and config).

Hookimpls only; ``ops``/``facts``/``cli`` are imported when a hook or an attribute needs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl
from pybofh_core.lazy import lazy_api

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
    from .bofh_status import sections

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
    **dict.fromkeys(
        ["SyncProgress", "Volume", "PeerVolume", "Connection", "ProcDevice", "ProcDrbd", "Address", "VolumeConfig",
         "HostConfig", "ConnectionHost", "ConnectionConfig", "Event", "RoleChange", "ResizeResult"], "types"),
}


__all__ = list(_API)  # help() (pydoc) documents these, each loaded through __getattr__

if TYPE_CHECKING:
    # ``_API`` spelled out for type checkers (nothing of it is imported at run time): ``import x as x``
    # re-exports ``x``. tests/test_typed_api.py checks that these name what ``__getattr__`` returns.
    from .facts import backing_disks as backing_disks
    from .facts import is_up as is_up
    from .facts import list_resources as list_resources
    from .facts import minors as minors
    from .facts import next_free_minor as next_free_minor
    from .facts import next_free_port as next_free_port
    from .facts import read_config as read_config
    from .facts import read_proc_drbd as read_proc_drbd
    from .facts import resource_config as resource_config
    from .facts import status as status
    from .facts import wait_synced as wait_synced
    from .ops import adjust as adjust
    from .ops import attach as attach
    from .ops import connect as connect
    from .ops import create_md as create_md
    from .ops import detach as detach
    from .ops import disconnect as disconnect
    from .ops import down as down
    from .ops import invalidate as invalidate
    from .ops import pause_sync as pause_sync
    from .ops import primary as primary
    from .ops import resize as resize
    from .ops import resume_sync as resume_sync
    from .ops import secondary as secondary
    from .ops import up as up
    from .ops import verify as verify
    from .parsers import parse_config as parse_config
    from .parsers import parse_events2 as parse_events2
    from .parsers import parse_proc_drbd as parse_proc_drbd
    from .parsers import parse_show_json as parse_show_json
    from .parsers import parse_status_json as parse_status_json
    from .parsers import parse_status_text as parse_status_text
    from .parsers import resources_from_events as resources_from_events
    from .types import Address as Address
    from .types import Connection as Connection
    from .types import ConnectionConfig as ConnectionConfig
    from .types import ConnectionHost as ConnectionHost
    from .types import ConnectionState as ConnectionState
    from .types import DiskState as DiskState
    from .types import DrbdConfig as DrbdConfig
    from .types import DrbdResource as DrbdResource
    from .types import Event as Event
    from .types import HostConfig as HostConfig
    from .types import PeerVolume as PeerVolume
    from .types import ProcDevice as ProcDevice
    from .types import ProcDrbd as ProcDrbd
    from .types import ReplicationState as ReplicationState
    from .types import ResizeResult as ResizeResult
    from .types import ResourceConfig as ResourceConfig
    from .types import Role as Role
    from .types import RoleChange as RoleChange
    from .types import SyncProgress as SyncProgress
    from .types import Volume as Volume
    from .types import VolumeConfig as VolumeConfig


__getattr__, __dir__ = lazy_api(__name__, _API)  # the API loads on first use (pybofh_core.lazy)
