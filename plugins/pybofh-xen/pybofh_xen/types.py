"""Frozen dataclasses of Xen state: domU configs (xl.cfg), disk and vif specs, domains from ``xl list``/``xl info``."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

MIB = 1024 * 1024
KIB = 1024

#: A value of an xl.cfg setting: a string atom (numbers keep their text) or a list of values.
XlValue: TypeAlias = str | tuple["XlValue", ...]


@dataclass(frozen=True, slots=True)
class XlConfig:
    """A parsed xl.cfg file: settings in file order (the last assignment of a key wins, as in xl)."""

    values: dict[str, XlValue]
    lines: dict[str, int]
    source: str | None = None

    def get(self, key: str, default: XlValue | None = None) -> XlValue | None:
        """The raw value of ``key`` (a string or a tuple), or ``default``."""
        return self.values.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json``."""
        return {"source": self.source, "values": self.values}


class DiskAccess(enum.StrEnum):
    """How the guest sees a disk: read-write or read-only."""

    RW = "rw"
    RO = "ro"


@dataclass(frozen=True, slots=True)
class DiskSpec:
    """One ``disk=`` entry of a domU (xl-disk-configuration syntax, positional, legacy prefixes or key=value)."""

    spec: str
    vdev: str
    target: str | None
    format: str = "raw"
    access: DiskAccess = DiskAccess.RW
    devtype: str = "disk"
    backendtype: str | None = None
    script: str | None = None
    prefixes: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

    @property
    def is_cdrom(self) -> bool:
        """Whether the disk is a CD-ROM drive (``devtype=cdrom``, ``cdrom`` flag or ``hdc:cdrom``)."""
        return self.devtype == "cdrom"

    @property
    def path(self) -> str | None:
        """The host path backing the disk (``/dev`` prepended to a relative target, as xl does); None when the
        target is empty (an empty CD-ROM) or is interpreted by a block script (``script=``, ``drbd:``…)."""
        if not self.target or self.script:
            return None
        return self.target if self.target.startswith("/") else "/dev/" + self.target

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json``."""
        return {
            "vdev": self.vdev, "target": self.target, "path": self.path, "format": self.format,
            "access": self.access.value, "devtype": self.devtype, "backendtype": self.backendtype,
            "script": self.script, "prefixes": list(self.prefixes), "options": self.options,
        }


@dataclass(frozen=True, slots=True)
class VifSpec:
    """One ``vif=`` entry: ``key=value`` pairs (mac, bridge, ip, script, model, type, vifname…)."""

    spec: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def mac(self) -> str | None:
        """The MAC address in lower case, or None (xl then makes a random one)."""
        mac = self.options.get("mac")
        return mac.lower() if mac else None

    @property
    def bridge(self) -> str | None:
        """The bridge (or Open vSwitch bridge) the vif is plugged into."""
        return self.options.get("bridge")

    @property
    def script(self) -> str | None:
        """The hotplug script (``vif-bridge``, ``vif-openvswitch``…)."""
        return self.options.get("script")

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json``."""
        return {"mac": self.mac, "bridge": self.bridge, "options": self.options}


@dataclass(frozen=True, slots=True)
class DomU:
    """A domU defined by an xl.cfg file: its name, the file, the parsed settings and its disks and vifs.

    ``str(domu)`` is the domain name, so a DomU can be passed wherever a name is expected.
    """

    name: str
    config_path: Path | None
    config: XlConfig
    disks: tuple[DiskSpec, ...] = ()
    vifs: tuple[VifSpec, ...] = ()
    guest_type: str = "pv"
    memory_bytes: int | None = None
    vcpus: int | None = None

    def __str__(self) -> str:
        return self.name

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json``."""
        return {
            "name": self.name, "config_path": str(self.config_path) if self.config_path else None,
            "type": self.guest_type, "memory_bytes": self.memory_bytes, "vcpus": self.vcpus,
            "disks": [d.to_json() for d in self.disks], "vifs": [v.to_json() for v in self.vifs],
        }


class DomainStatus(enum.StrEnum):
    """The dominant state of a domain, from the ``r b p s c d`` flags of ``xl list`` (most severe first)."""

    DYING = "dying"
    CRASHED = "crashed"
    SHUTDOWN = "shutdown"
    PAUSED = "paused"
    RUNNING = "running"
    BLOCKED = "blocked"
    IDLE = "idle"  # no flag set: neither running nor blocked (e.g. waiting for a CPU)


_FLAG_ORDER = (("d", DomainStatus.DYING), ("c", DomainStatus.CRASHED), ("s", DomainStatus.SHUTDOWN),
               ("p", DomainStatus.PAUSED), ("r", DomainStatus.RUNNING), ("b", DomainStatus.BLOCKED))


def status_from_flags(flags: str) -> DomainStatus:
    """The dominant ``DomainStatus`` of an ``xl list`` state string such as ``-b----`` or ``--psc-``."""
    for letter, status in _FLAG_ORDER:
        if letter in flags:
            return status
    return DomainStatus.IDLE


@dataclass(frozen=True, slots=True)
class Domain:
    """One row of ``xl list``: a domain that exists in the hypervisor now."""

    name: str
    domid: int
    memory_bytes: int
    vcpus: int
    state: str
    cpu_time: float

    @property
    def status(self) -> DomainStatus:
        """The dominant state (dying > crashed > shutdown > paused > running > blocked)."""
        return status_from_flags(self.state)

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json``."""
        return {"name": self.name, "domid": self.domid, "memory_bytes": self.memory_bytes, "vcpus": self.vcpus,
                "state": self.state, "status": self.status.value, "cpu_time": self.cpu_time}


@dataclass(frozen=True, slots=True)
class DomainDetails:
    """One domain of ``xl list -l`` (JSON on xl ≥ 4.1 defaults, SXP on 4.0/4.1): identity, size, devices."""

    domid: int | None
    name: str
    uuid: str | None
    guest_type: str | None
    memory_bytes: int | None
    vcpus: int | None
    state: str | None = None
    disks: tuple[DiskSpec, ...] = ()
    vifs: tuple[VifSpec, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json``."""
        return {"domid": self.domid, "name": self.name, "uuid": self.uuid, "type": self.guest_type,
                "memory_bytes": self.memory_bytes, "vcpus": self.vcpus, "state": self.state,
                "disks": [d.to_json() for d in self.disks], "vifs": [v.to_json() for v in self.vifs]}


@dataclass(frozen=True, slots=True)
class XlInfo:
    """``xl info``: the host, its memory and CPUs, and the hypervisor's version and command line."""

    host: str
    xen_version: str
    nr_cpus: int
    nr_nodes: int | None
    total_memory_bytes: int
    free_memory_bytes: int
    xen_caps: tuple[str, ...]
    virt_caps: tuple[str, ...]
    xen_scheduler: str | None
    xen_commandline: str | None
    fields: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json``."""
        return {"host": self.host, "xen_version": self.xen_version, "nr_cpus": self.nr_cpus,
                "nr_nodes": self.nr_nodes, "total_memory_bytes": self.total_memory_bytes,
                "free_memory_bytes": self.free_memory_bytes, "xen_caps": list(self.xen_caps),
                "virt_caps": list(self.virt_caps), "xen_scheduler": self.xen_scheduler,
                "xen_commandline": self.xen_commandline}


@dataclass(frozen=True, slots=True)
class Uptime:
    """One row of ``xl uptime``."""

    name: str
    domid: int
    seconds: int


@dataclass(frozen=True, slots=True)
class StartedDomu:
    """What ``start_domu`` did: which domain it created from which file, with which UUID (the undo destroys the
    domain of that name only while it has that UUID)."""

    name: str
    config_path: str
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class StoppedDomu:
    """What ``shutdown_domu`` did; ``config_path`` (if known) lets the undo start the domain again."""

    name: str
    config_path: str | None


@dataclass(frozen=True, slots=True)
class SavedDomu:
    """What ``save_domu`` did: the domain's state is in ``path`` and the domain is gone (``uuid``: the saved
    domain's, when it was read for the undo inside an atomic block)."""

    name: str
    path: str
    uuid: str | None = None

    def __fspath__(self) -> str:
        """The saved state file: pass it on to restore_domu."""
        return self.path


@dataclass(frozen=True, slots=True)
class RestoredDomu:
    """What ``restore_domu`` did: a domain (named as when it was saved, if known) from the state file ``path``."""

    path: str
    name: str | None
