"""What DRBD operations do to the planning model of a dry run (``@operation(effects=...)`` in ``ops``).

Two kinds of its own, read back by ``facts`` (``status``/``is_up``/``wait_synced``), so a later planned step — a
``primary`` after a planned ``up``, the undo of ``up`` — sees the plan's state instead of "resource is down":

- ``drbd.resource`` (``RESOURCE``): key the resource name, value the ``DrbdResource`` ``facts.status`` would report
  once the planned steps ran (``GONE`` after a planned ``down``). A planned ``up`` makes it as DRBD reports it right
  after ``drbdadm up``: Secondary; each disk Inconsistent on metadata the plan wrote (``DUnknown`` on metadata
  already there: its flags decide, and they are read only by the run); WFConnection towards the peer on DRBD 8.x,
  Connecting to each peer on 9. Role, connection, disk and pause changes replace it.
- ``drbd.md`` (``METADATA``): key the backing disk, value the ``PlannedMetadata`` a planned ``create_md`` wrote
  (fresh: no agreed size, no up-to-date data). Its signature is also in the core's ``SIGNATURE`` kind where it is
  written (the last 4 KiB block, the magic 0x3c into it, as wipefs reports it), so a later planned data check of
  the disk finds DRBD metadata there, as the run's would.

A planned ``up`` (or ``attach``) also makes each volume's ``/dev/drbdN`` a planned ``BLOCK`` device of the size DRBD
gives it: the backing disk (4 KiB aligned) less its internal metadata — 4 KiB of bitmap per 128 MiB (per peer),
a 4 KiB superblock and a 32 KiB activity log, as DRBD 8.4's ``drbd_md_set_sector_offsets`` lays it out (96 MiB
of LV: 100622336 bytes, as the VM test bed's guest reports) — or all of it with external metadata; a later planned
mkfs, LUKS format or resize finds it. Metadata that was already there may hold a smaller agreed size; the plan
assumes the device fills its disk.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from pybofh_core.model import BLOCK, Placeholder, PlanModel, PlannedDevice, placeholder
from pybofh_core.operations import same_object
from pybofh_core.runner import device_size as runner_device_size
from pybofh_core.safety import SIGNATURE, Signature

from . import facts
from .checks import check_resource_name
from .errors import DrbdUnavailableError, ResourceDownError
from .layers import internal_md_bytes
from .types import (
    Connection,
    ConnectionState,
    DiskState,
    DrbdResource,
    PeerVolume,
    ReplicationState,
    ResizeResult,
    ResourceConfig,
    Role,
    RoleChange,
    Volume,
    VolumeConfig,
)

RESOURCE, METADATA = facts.RESOURCE, facts.METADATA

BLOCK_SIZE = 4096  # DRBD sizes devices in 4 KiB blocks; its superblock is the last one of the metadata area
MAGIC_OFFSET = 0x3C  # where v08 and v09 metadata keep their magic in that block (wipefs's offset)
INDEXED_MD_BYTES = 128 * 1024**2  # one slot of indexed external metadata (``meta-disk DEV[N]``)
_INDEXED = re.compile(r"^(?P<dev>.+)\[(?P<index>\d+)\]$")


@dataclasses.dataclass(frozen=True)
class PlannedMetadata:
    """DRBD metadata a planned ``create_md`` writes for the volume on ``disk``: where (``meta``, the disk itself
    for internal metadata), for how many peers, and its device UUID (known once drbdmeta made it)."""

    disk: str
    meta: str
    max_peers: int
    uuid: Placeholder


def metadata_uuid(device: str) -> Placeholder:
    """The placeholder of the UUID new metadata on ``device`` gets (``<uuid of DRBD metadata on /dev/vg/lv>``)."""
    return placeholder(f"uuid of DRBD metadata on {device}")


def usable_size(backing: int, meta_disk: str | None, peers: int = 1) -> int:
    """The size (bytes) DRBD gives a device on ``backing`` bytes of disk: all of it with external metadata, else
    the disk aligned down to 4 KiB less the internal metadata (``layers.internal_md_bytes``)."""
    if meta_disk not in (None, "internal"):
        return backing
    return max(0, backing // BLOCK_SIZE * BLOCK_SIZE - internal_md_bytes(backing, peers))


# --- reading the configuration and the state the plan leaves ----------------------------------------------------


def _config(name: str) -> ResourceConfig:
    return facts.resource_config(name)


def _volumes(cfg: ResourceConfig) -> tuple[VolumeConfig, ...]:
    """The resource's volumes on this host (``drbdadm dump``)."""
    return cfg.volumes_for(cfg.this_host)


def _state(name: str) -> DrbdResource | None:
    """The resource's status as the plan leaves it so far, None when it is down."""
    try:
        return facts.status(name)
    except (ResourceDownError, DrbdUnavailableError):
        return None


def _major() -> int | None:
    """DRBD's major version where commands run (8 or 9), None when no module is loaded."""
    try:
        return facts.read_proc_drbd().major
    except DrbdUnavailableError:
        return None


def _has_disk(v: VolumeConfig) -> bool:
    return bool(v.disk) and v.disk != "none"


def _peers(v: VolumeConfig) -> int:
    """The peers the metadata of ``v`` has bitmaps for: as a planned ``create_md`` wrote it, else one."""
    md = facts.planned(METADATA, v.disk or "")
    return md.max_peers if isinstance(md, PlannedMetadata) else 1


def _attached_disk(v: VolumeConfig) -> DiskState:
    """The disk state right after attaching ``v``: Inconsistent on metadata the plan wrote, DUnknown on metadata
    already there (its flags decide: UpToDate, Consistent, Outdated or Inconsistent), Diskless without a disk."""
    if not _has_disk(v):
        return DiskState.DISKLESS
    return DiskState.INCONSISTENT if isinstance(facts.planned(METADATA, v.disk or ""), PlannedMetadata) \
        else DiskState.DUNKNOWN


def filled_size(v: VolumeConfig) -> int | None:
    """The size ``v``'s device has when it fills its backing disk (as planned so far), None without a disk."""
    if not _has_disk(v):
        return None
    return usable_size(runner_device_size(v.disk or ""), v.meta_disk, _peers(v))


def _device_paths(v: VolumeConfig) -> list[str]:
    """``/dev/drbdN`` and the configured device name, when it differs."""
    paths = [f"/dev/drbd{v.minor}"] if v.minor is not None else []
    if v.device:
        paths.append(v.device)
    return list(dict.fromkeys(paths))


def _connecting(cfg: ResourceConfig, vols: tuple[VolumeConfig, ...]) -> tuple[Connection, ...]:
    """The connections right after ``drbdadm up``/``connect``: waiting for the peer (DRBD 8.x: one, WFConnection;
    9: one per peer host, Connecting), the peer's role and disks unknown, nothing replicated yet."""
    peers = [h for h in cfg.hosts if h.kind in ("on", "floating") and h.name != cfg.this_host]
    peer_volumes = tuple(PeerVolume(v.number, DiskState.DUNKNOWN, ReplicationState.OFF) for v in vols)
    major = _major()
    if major is not None and major < 9:
        state = ConnectionState.WF_CONNECTION if peers else ConnectionState.STANDALONE
        return (Connection(state, Role.UNKNOWN, volumes=peer_volumes, protocol=cfg.protocol or "C"),)
    return tuple(Connection(ConnectionState.CONNECTING, Role.UNKNOWN, name=h.name, peer_node_id=h.node_id,
                            volumes=peer_volumes) for h in peers)


def _change(model: PlanModel, name: str, how: Callable[[DrbdResource], DrbdResource]) -> None:
    """Put the resource's status changed by ``how`` (nothing when it is down: the run's command fails there)."""
    st = _state(name)
    if st is not None:
        model.put(RESOURCE, name, how(st))


# --- the effects --------------------------------------------------------------------------------------------------


def md_created(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``create_md``: fresh metadata for each volume written (the one on ``disk``, or all), and its signature."""
    name = check_resource_name(args["res"])
    peers = int(args.get("max_peers") or 1)
    for v in _volumes(_config(name)):
        if not _has_disk(v) or (args.get("disk") is not None and not same_object(v.disk or "", result)):
            continue
        meta, base, size = _metadata_area(v)
        uuid = metadata_uuid(meta)
        model.put(METADATA, v.disk or "", PlannedMetadata(v.disk or "", meta, peers, uuid))
        model.put(SIGNATURE, meta, Signature("drbd", base + size // BLOCK_SIZE * BLOCK_SIZE - BLOCK_SIZE
                                             + MAGIC_OFFSET, uuid))


def _metadata_area(v: VolumeConfig) -> tuple[str, int, int]:
    """Where ``v``'s metadata lies: the device, the offset of its area and the area's size (bytes)."""
    meta = v.meta_disk or "internal"
    if meta == "internal":
        return v.disk or "", 0, runner_device_size(v.disk or "")
    m = _INDEXED.match(meta)
    if m:
        return m.group("dev"), int(m.group("index")) * INDEXED_MD_BYTES, INDEXED_MD_BYTES
    return meta, 0, runner_device_size(meta)


def brought_up(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``up``: the resource Secondary, its disks attached, waiting for its peers; each volume's device planned."""
    name = result
    if _state(name) is not None:  # already up: drbdadm refuses, and the state stays as it is
        return
    cfg = _config(name)
    vols = _volumes(cfg)
    volumes = []
    for v in vols:
        size = filled_size(v)
        volumes.append(Volume(v.number, _attached_disk(v), minor=v.minor, size_bytes=size))
        if size is not None:
            for path in _device_paths(v):
                model.put(BLOCK, path, PlannedDevice(path, size))
    this = cfg.host()
    model.put(RESOURCE, name, DrbdResource(name, Role.SECONDARY, tuple(volumes), _connecting(cfg, vols),
                                           suspended=False, node_id=this.node_id if this is not None else None))


def taken_down(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``down``: the resource and its devices are gone."""
    model.remove(RESOURCE, result)
    for v in _volumes(_config(result)):
        for path in _device_paths(v):
            model.remove(BLOCK, path)


def role_changed(model: PlanModel, result: RoleChange, args: Mapping[str, Any]) -> None:
    """``primary``/``secondary``: the new role; an authoritative promotion (``--force``) makes this node's disks
    UpToDate (the data the peers are then synced from)."""
    forced = result.current is Role.PRIMARY and bool(args.get("authoritative") or args.get("force"))

    def how(st: DrbdResource) -> DrbdResource:
        vols = tuple(dataclasses.replace(v, disk=DiskState.UPTODATE)
                     if forced and v.disk is not DiskState.DISKLESS else v for v in st.volumes)
        return dataclasses.replace(st, role=result.current, volumes=vols)

    _change(model, result.resource, how)


def connected(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``connect``: waiting for the peers again (as right after ``up``)."""
    cfg = _config(result)
    _change(model, result, lambda st: dataclasses.replace(st, connections=_connecting(cfg, _volumes(cfg))))


def disconnected(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``disconnect``: every connection StandAlone, the peers' roles and disks unknown."""
    def how(st: DrbdResource) -> DrbdResource:
        return dataclasses.replace(st, connections=tuple(
            dataclasses.replace(c, state=ConnectionState.STANDALONE, peer_role=Role.UNKNOWN, volumes=tuple(
                PeerVolume(pv.number, DiskState.DUNKNOWN, ReplicationState.OFF) for pv in c.volumes))
            for c in st.connections))

    _change(model, result, how)


def _with_disks(st: DrbdResource, disk: Callable[[Volume], DiskState]) -> DrbdResource:
    return dataclasses.replace(st, volumes=tuple(dataclasses.replace(v, disk=disk(v)) for v in st.volumes))


def attached(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``attach``: the Diskless volumes have their disks again (in the state attaching leaves them)."""
    configured = {v.number: v for v in _volumes(_config(result))}

    def disk(v: Volume) -> DiskState:
        if v.disk is not DiskState.DISKLESS or v.number not in configured:
            return v.disk
        return _attached_disk(configured[v.number])

    _change(model, result, lambda st: _with_disks(st, disk))


def detached(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``detach``: every volume Diskless."""
    _change(model, result, lambda st: _with_disks(st, lambda v: DiskState.DISKLESS))


def invalidated(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``invalidate``: this node's disks Inconsistent (resynced from the peer)."""
    _change(model, result, lambda st: _with_disks(
        st, lambda v: v.disk if v.disk is DiskState.DISKLESS else DiskState.INCONSISTENT))


def _user_pause(paused: bool) -> Callable[[DrbdResource], DrbdResource]:
    """A change of the ``user`` reason of every peer volume's resync pause (set or cleared)."""
    def flags(now: str | None) -> str | None:
        reasons = [r for r in str(now or "").split(",") if r and r != "user"] + (["user"] if paused else [])
        return ",".join(reasons) or None

    def how(st: DrbdResource) -> DrbdResource:
        return dataclasses.replace(st, connections=tuple(dataclasses.replace(c, volumes=tuple(
            dataclasses.replace(pv, resync_suspended=flags(pv.resync_suspended)) for pv in c.volumes))
            for c in st.connections))

    return how


def sync_paused(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``pause_sync``: the resync paused by the user."""
    _change(model, result, _user_pause(True))


def sync_resumed(model: PlanModel, result: str, args: Mapping[str, Any]) -> None:
    """``resume_sync``: the user's pause lifted."""
    _change(model, result, _user_pause(False))


def planned_size(name: str, size: int | None) -> int | None:
    """The size the first volume's device has after ``drbdadm resize``: ``size``, or filling its disk."""
    vols = _volumes(_config(name))
    if size is not None or not vols:
        return size
    return filled_size(vols[0])


def resized(model: PlanModel, result: ResizeResult, args: Mapping[str, Any]) -> None:
    """``resize``: each volume's device has its new size (the one asked for, or filling its disk)."""
    sizes: dict[int, int] = {}
    for v in _volumes(_config(result.resource)):
        size = result.new_size if args.get("size") is not None else filled_size(v)
        if size is None or v.minor is None:
            continue
        sizes[v.number] = size
        model.resize_device(size, *_device_paths(v))
    _change(model, result.resource, lambda st: dataclasses.replace(st, volumes=tuple(
        dataclasses.replace(v, size_bytes=sizes.get(v.number, v.size_bytes)) for v in st.volumes)))


__all__ = [
    "METADATA", "RESOURCE", "PlannedMetadata", "attached", "brought_up", "connected", "detached", "disconnected",
    "filled_size", "invalidated", "md_created", "metadata_uuid", "planned_size", "resized", "role_changed",
    "sync_paused", "sync_resumed", "taken_down", "usable_size",
]
