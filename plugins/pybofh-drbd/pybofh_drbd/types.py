"""Frozen dataclasses and enums for DRBD state (status of resources) and configuration (resources, hosts, volumes).

State names are the ones DRBD prints (``drbd_strings.c`` of 8.0-8.4 and 9.x); sizes are int bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Role(enum.Enum):
    """A node's role for a resource (``role:``/``ro:``/``st:``)."""

    PRIMARY = "Primary"
    SECONDARY = "Secondary"
    UNKNOWN = "Unknown"


class DiskState(enum.Enum):
    """A local or peer disk state (``disk:``/``peer-disk:``/``ds:``)."""

    DISKLESS = "Diskless"
    ATTACHING = "Attaching"
    DETACHING = "Detaching"
    FAILED = "Failed"
    NEGOTIATING = "Negotiating"
    INCONSISTENT = "Inconsistent"
    OUTDATED = "Outdated"
    DUNKNOWN = "DUnknown"
    CONSISTENT = "Consistent"
    UPTODATE = "UpToDate"


class ConnectionState(enum.Enum):
    """A connection state: DRBD 9 ``connection:`` values, plus the 8.x ``cs:`` values that also carried replication."""

    STANDALONE = "StandAlone"
    DISCONNECTING = "Disconnecting"
    UNCONNECTED = "Unconnected"
    TIMEOUT = "Timeout"
    BROKEN_PIPE = "BrokenPipe"
    NETWORK_FAILURE = "NetworkFailure"
    PROTOCOL_ERROR = "ProtocolError"
    TEAR_DOWN = "TearDown"
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    # DRBD 8.x only (in 9 these are split into "Connecting" and replication states)
    WF_CONNECTION = "WFConnection"
    WF_REPORT_PARAMS = "WFReportParams"
    STARTING_SYNC_S = "StartingSyncS"
    STARTING_SYNC_T = "StartingSyncT"
    WF_BITMAP_S = "WFBitMapS"
    WF_BITMAP_T = "WFBitMapT"
    WF_SYNC_UUID = "WFSyncUUID"
    SYNC_SOURCE = "SyncSource"
    SYNC_TARGET = "SyncTarget"
    VERIFY_S = "VerifyS"
    VERIFY_T = "VerifyT"
    PAUSED_SYNC_S = "PausedSyncS"
    PAUSED_SYNC_T = "PausedSyncT"
    AHEAD = "Ahead"
    BEHIND = "Behind"

    @property
    def connected(self) -> bool:
        """Whether the peer link is up (Connected, or an 8.x state that implies it)."""
        return self not in _NOT_CONNECTED


_NOT_CONNECTED = {
    ConnectionState.STANDALONE, ConnectionState.DISCONNECTING, ConnectionState.UNCONNECTED, ConnectionState.TIMEOUT,
    ConnectionState.BROKEN_PIPE, ConnectionState.NETWORK_FAILURE, ConnectionState.PROTOCOL_ERROR,
    ConnectionState.TEAR_DOWN, ConnectionState.CONNECTING, ConnectionState.WF_CONNECTION,
    ConnectionState.WF_REPORT_PARAMS,
}


class ReplicationState(enum.Enum):
    """A peer volume's replication state (DRBD 9 ``replication:``; derived from ``cs:`` on 8.x)."""

    OFF = "Off"
    ESTABLISHED = "Established"
    STARTING_SYNC_S = "StartingSyncS"
    STARTING_SYNC_T = "StartingSyncT"
    WF_BITMAP_S = "WFBitMapS"
    WF_BITMAP_T = "WFBitMapT"
    WF_SYNC_UUID = "WFSyncUUID"
    SYNC_SOURCE = "SyncSource"
    SYNC_TARGET = "SyncTarget"
    VERIFY_S = "VerifyS"
    VERIFY_T = "VerifyT"
    PAUSED_SYNC_S = "PausedSyncS"
    PAUSED_SYNC_T = "PausedSyncT"
    AHEAD = "Ahead"
    BEHIND = "Behind"

    @property
    def syncing(self) -> bool:
        """Whether a resync (running, paused or starting) is in progress."""
        return self not in (ReplicationState.OFF, ReplicationState.ESTABLISHED, ReplicationState.VERIFY_S,
                            ReplicationState.VERIFY_T, ReplicationState.AHEAD, ReplicationState.BEHIND)


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """A resync or verify in progress, as /proc/drbd 8.x prints it (``sync'ed: 34.9% (346112/524288)M``)."""

    percent: float
    remaining_bytes: int | None = None
    total_bytes: int | None = None
    finish_seconds: int | None = None
    speed_bytes: int | None = None
    want_bytes: int | None = None
    verify: bool = False


@dataclass(frozen=True, slots=True)
class Volume:
    """A local volume (device) of a resource."""

    number: int
    disk: DiskState
    minor: int | None = None
    size_bytes: int | None = None
    open: bool | None = None
    quorum: bool | None = None
    backing_device: str | None = None

    @property
    def device(self) -> str | None:
        """The DRBD device path (``/dev/drbdN``) when the minor is known."""
        return None if self.minor is None else f"/dev/drbd{self.minor}"


@dataclass(frozen=True, slots=True)
class PeerVolume:
    """One volume as seen over one connection: replication state, the peer's disk, and resync progress."""

    number: int
    peer_disk: DiskState
    replication: ReplicationState | None = None
    sync_percent: float | None = None
    out_of_sync_bytes: int | None = None
    progress: SyncProgress | None = None
    resync_suspended: str | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    """A connection to one peer: its name/node id, the connection state, the peer's role and volumes."""

    state: ConnectionState
    peer_role: Role
    name: str | None = None
    peer_node_id: int | None = None
    volumes: tuple[PeerVolume, ...] = ()
    protocol: str | None = None


@dataclass(frozen=True, slots=True)
class DrbdResource:
    """The status of one resource on this node (8.x minors are resources named by their minor number)."""

    name: str
    role: Role
    volumes: tuple[Volume, ...] = ()
    connections: tuple[Connection, ...] = ()
    suspended: bool | None = None
    node_id: int | None = None

    @property
    def minors(self) -> list[int]:
        """Minor numbers of the resource's volumes (where known)."""
        return [v.minor for v in self.volumes if v.minor is not None]

    @property
    def syncing(self) -> bool:
        """Whether any volume is resyncing with any peer."""
        return any(pv.replication is not None and pv.replication.syncing for c in self.connections for pv in c.volumes)

    @property
    def synced(self) -> bool:
        """Whether every local disk and every connected peer's disk is UpToDate and no resync runs.

        False when there is no connection at all: a lone node cannot say it is in sync with anyone.
        """
        if not self.volumes or not self.connections:
            return False
        if any(v.disk is not DiskState.UPTODATE for v in self.volumes):
            return False
        for conn in self.connections:
            if not conn.state.connected or not conn.volumes:
                return False
            for pv in conn.volumes:
                if pv.peer_disk is not DiskState.UPTODATE or (pv.replication is not None and pv.replication.syncing):
                    return False
        return True

    @property
    def sync_percent(self) -> float | None:
        """The least-synced peer volume's percentage (100.0 when synced, None when no figure is known)."""
        if self.synced:
            return 100.0
        figures = [pv.sync_percent for c in self.connections for pv in c.volumes if pv.sync_percent is not None]
        return min(figures) if figures else None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--json`` and tables, with the derived sync figures."""
        return {
            "name": self.name,
            "role": self.role.value,
            "node_id": self.node_id,
            "suspended": self.suspended,
            "synced": self.synced,
            "sync_percent": self.sync_percent,
            "volumes": [to_plain_dc(v) for v in self.volumes],
            "connections": [to_plain_dc(c) for c in self.connections],
        }


def to_plain_dc(obj: Any) -> dict[str, Any]:
    """A slotted dataclass as a dict of plain values (enums by value)."""
    from dataclasses import fields

    from pybofh_core.render import to_plain

    return {f.name: to_plain(getattr(obj, f.name)) for f in fields(obj)}


@dataclass(frozen=True, slots=True)
class ProcDevice:
    """One minor line of /proc/drbd (8.x): states as printed, I/O counters in bytes, resync progress."""

    minor: int
    state: ConnectionState | None
    role: Role | None = None
    peer_role: Role | None = None
    disk: DiskState | None = None
    peer_disk: DiskState | None = None
    protocol: str | None = None
    flags: str | None = None
    counters: dict[str, int | str] = field(default_factory=dict)
    progress: SyncProgress | None = None

    @property
    def configured(self) -> bool:
        """False for ``cs:Unconfigured`` minors."""
        return self.state is not None

    @property
    def out_of_sync_bytes(self) -> int | None:
        """The ``oos:`` counter (KiB in the file) in bytes, when printed (8.3+)."""
        oos = self.counters.get("oos")
        return oos * 1024 if isinstance(oos, int) else None


@dataclass(frozen=True, slots=True)
class ProcDrbd:
    """The whole of /proc/drbd: module version line facts and every minor listed."""

    version: str | None
    api: str | None
    proto: str | None
    build: str | None
    devices: tuple[ProcDevice, ...] = ()

    @property
    def major(self) -> int | None:
        """DRBD's major version (8 or 9) from the version line, None when the line is missing."""
        return int(self.version.split(".", 1)[0]) if self.version else None

    def device(self, minor: int) -> ProcDevice | None:
        """The device with ``minor``, or None when it is not listed."""
        return next((d for d in self.devices if d.minor == minor), None)


@dataclass(frozen=True, slots=True)
class Address:
    """A DRBD endpoint ``[family] host:port`` (``ipv6 [fe80::1%eth0]:7789`` keeps the brackets off ``host``)."""

    host: str
    port: int
    family: str = "ipv4"

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.family == "ipv6" else self.host
        return f"{self.family} {host}:{self.port}"


@dataclass(frozen=True, slots=True)
class VolumeConfig:
    """A volume as configured: number, device/minor, backing disk and meta-disk (None where not given)."""

    number: int
    minor: int | None = None
    device: str | None = None
    disk: str | None = None
    meta_disk: str | None = None


@dataclass(frozen=True, slots=True)
class HostConfig:
    """A host section: ``on NAME`` / ``floating`` (config, dump) or ``_this_host``/``_remote_host`` (show)."""

    kind: str  # "on", "floating", "this", "remote"
    name: str | None = None
    node_id: int | None = None
    address: Address | None = None
    volumes: tuple[VolumeConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectionHost:
    """One ``host`` line of a ``connection`` section (or one end of a ``path``)."""

    name: str | None
    address: Address | None = None
    port: int | None = None
    via_proxy: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """A ``connection`` section: its hosts/paths, peer node id and state (show), and the peer's name."""

    hosts: tuple[ConnectionHost, ...] = ()
    paths: tuple[tuple[Address, Address], ...] = ()
    peer_node_id: int | None = None
    name: str | None = None
    cstate: str | None = None
    net: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResourceConfig:
    """One resource's configuration facts (name is None for the anonymous 8.0/8.3 ``drbdsetup show`` output)."""

    name: str | None
    hosts: tuple[HostConfig, ...] = ()
    volumes: tuple[VolumeConfig, ...] = ()
    connections: tuple[ConnectionConfig, ...] = ()
    protocol: str | None = None
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    mesh_hosts: tuple[str, ...] = ()
    this_host: str | None = None

    def host(self, name: str | None = None) -> HostConfig | None:
        """The ``on NAME`` section (``this_host`` when NAME is None), or the ``_this_host`` section of show output."""
        name = name or self.this_host
        for h in self.hosts:
            if (name is not None and h.name == name) or (name is None and h.kind == "this"):
                return h
        return None

    def volumes_for(self, host: str | None = None) -> tuple[VolumeConfig, ...]:
        """Effective volumes on a host: resource-level volumes overlaid with the host's own settings."""
        h = self.host(host)
        merged: dict[int, VolumeConfig] = {v.number: v for v in self.volumes}
        for v in h.volumes if h else ():
            base = merged.get(v.number)
            if base is None:
                merged[v.number] = v
            else:
                merged[v.number] = VolumeConfig(
                    v.number,
                    minor=v.minor if v.minor is not None else base.minor,
                    device=v.device or base.device,
                    disk=v.disk or base.disk,
                    meta_disk=v.meta_disk or base.meta_disk,
                )
        return tuple(merged[k] for k in sorted(merged))

    @property
    def minors(self) -> list[int]:
        """Every minor this resource uses on any host (sorted, unique)."""
        found = {v.minor for v in self.volumes if v.minor is not None}
        for h in self.hosts:
            found |= {v.minor for v in h.volumes if v.minor is not None}
        return sorted(found)

    @property
    def addresses(self) -> list[Address]:
        """Every address of the resource: hosts, connection hosts and paths."""
        out = [h.address for h in self.hosts if h.address is not None]
        for c in self.connections:
            out += [ch.address for ch in c.hosts if ch.address is not None]
            for a, b in c.paths:
                out += [a, b]
        return out

    @property
    def ports(self) -> list[int]:
        """Every TCP port the resource uses (sorted, unique)."""
        ports = {a.port for a in self.addresses}
        for c in self.connections:
            ports |= {ch.port for ch in c.hosts if ch.port is not None}
        return sorted(ports)


@dataclass(frozen=True, slots=True)
class DrbdConfig:
    """All resources of a configuration (``drbdadm dump``, ``.res`` files, ``drbdsetup show``)."""

    resources: tuple[ResourceConfig, ...] = ()

    def resource(self, name: str) -> ResourceConfig | None:
        """The resource called ``name``, or None."""
        return next((r for r in self.resources if r.name == name), None)

    @property
    def names(self) -> list[str]:
        """Resource names in file order (anonymous show output has none)."""
        return [r.name for r in self.resources if r.name is not None]

    @property
    def minors(self) -> list[int]:
        """Every minor in use by any resource (sorted, unique)."""
        return sorted({m for r in self.resources for m in r.minors})

    @property
    def ports(self) -> list[int]:
        """Every port in use by any resource (sorted, unique)."""
        return sorted({p for r in self.resources for p in r.ports})

    def next_free_minor(self, start: int = 0) -> int:
        """The lowest minor ≥ ``start`` no resource uses."""
        used = set(self.minors)
        n = start
        while n in used:
            n += 1
        return n

    def next_free_port(self, start: int = 7788) -> int:
        """The lowest port ≥ ``start`` no resource uses (DRBD's customary base is 7788)."""
        used = set(self.ports)
        n = start
        while n in used:
            n += 1
        if n > 65535:
            from pybofh_core.errors import ValidationError

            raise ValidationError(f"no free DRBD port at or above {start}")
        return n


@dataclass(frozen=True, slots=True)
class Event:
    """One ``drbdsetup events2`` line: verb (exists/create/change/destroy/call/response), object kind, attributes.

    With ``--diff`` a value ``old->new`` is split: ``attrs`` holds the new value, ``old`` the previous one.
    """

    verb: str
    kind: str
    attrs: dict[str, str] = field(default_factory=dict)
    old: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RoleChange:
    """Result of ``primary``/``secondary``: the role before and after, so the undo can restore it."""

    resource: str
    previous: Role
    current: Role


@dataclass(frozen=True, slots=True)
class ResizeResult:
    """Result of ``resize``: the device size before and after (bytes; None when it could not be read)."""

    resource: str
    old_size: int | None
    new_size: int | None
