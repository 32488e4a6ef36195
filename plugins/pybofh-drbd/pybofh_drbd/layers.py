"""DRBD in the block-device stack model: a ``/dev/drbdN`` device itself, and DRBD metadata on a backing device.

``DrbdDevice`` answers ``pybofh_probe_device`` for /dev/drbdN (resizing it is ``drbdadm resize``);
``DrbdBacking`` answers ``pybofh_probe_layer`` for a device blkid calls ``TYPE=drbd`` (an LV with DRBD
metadata): it opens to /dev/drbdN by bringing its resource up.
"""

from __future__ import annotations

import math
import re

from pybofh_core.layers import Layer

from .errors import ResourceNotFoundError

DRBD_DEVICE_RE = re.compile(r"^/dev/drbd(\d+)$")
BITMAP_SECTORS_PER_128MIB = 8  # internal metadata: 4 KiB of bitmap per 128 MiB of data (per peer)
MD_FIXED_SECTORS = 72  # superblock + activity log of internal metadata


def internal_md_bytes(backing_bytes: int, peers: int = 1) -> int:
    """Size of DRBD internal metadata on a backing device (DRBD user guide: ceil(Cs / 2^18) * 8 + 72 sectors)."""
    sectors = backing_bytes // 512
    return (math.ceil(sectors / 2**18) * BITMAP_SECTORS_PER_128MIB * max(1, peers) + MD_FIXED_SECTORS) * 512


class DrbdDevice(Layer):
    """A DRBD device (/dev/drbdN) as a resizable container that opens to itself."""

    kind = "drbd-device"
    container = True

    def __init__(self, device: str, minor: int, resource: str | None = None) -> None:
        super().__init__(device)
        self.minor = minor
        self._resource = resource

    @property
    def resource(self) -> str:
        """The resource that owns this minor (looked up in ``drbdadm dump`` on first use)."""
        if self._resource is None:
            from . import facts

            found = facts.resource_for_minor(self.minor)
            if found is None:
                raise ResourceNotFoundError(f"no DRBD resource of this host uses minor {self.minor} ({self.device})")
            self._resource = found
        return self._resource

    @property
    def granularity(self) -> int:
        """DRBD sizes its devices in 4 KiB blocks."""
        return 4096

    def current_size(self) -> int:
        """The device's size now (from sysfs, readable in every role)."""
        from . import facts

        return facts.device_size(self.device)

    def open(self) -> str:
        """The device is its own inner device."""
        return self.device

    @property
    def inner(self) -> str:
        """The device itself."""
        return self.device

    def resize(self, size: int | None) -> None:
        """Grow to the backing disk (None) or set ``size`` bytes: ``drbdadm resize``."""
        from . import ops

        ops.resize(self.resource, size)


class DrbdBacking(Layer):
    """A backing device holding DRBD metadata: opens to the resource's /dev/drbdN (``drbdadm up``)."""

    kind = "drbd"
    container = True

    def __init__(self, device: str, version: str | None = None) -> None:
        super().__init__(device)
        self.version = version
        self._found: tuple[str, int] | None = None

    def _lookup(self) -> tuple[str, int]:
        if self._found is None:
            from . import facts

            found = facts.resource_for_disk(self.device)
            if found is None:
                raise ResourceNotFoundError(
                    f"{self.device} holds DRBD metadata but no DRBD resource of this host uses it as its disk"
                )
            self._found = found
        return self._found

    @property
    def resource(self) -> str:
        """The resource whose backing disk this device is."""
        return self._lookup()[0]

    @property
    def drbd_device(self) -> str:
        """The /dev/drbdN this backing device opens to."""
        return f"/dev/drbd{self._lookup()[1]}"

    @property
    def granularity(self) -> int:
        """DRBD sizes its devices in 4 KiB blocks."""
        return 4096

    @property
    def overhead(self) -> int:
        """Bytes the metadata takes: measured (backing - device) when up, else the internal-metadata estimate."""
        from . import facts

        backing = facts.device_size(self.device)
        if self.inner is not None:
            return backing - facts.device_size(self.drbd_device)
        return internal_md_bytes(backing)

    def current_size(self) -> int:
        """The DRBD device's size when up, else the backing size minus the internal-metadata estimate."""
        from . import facts

        if self.inner is not None:
            return facts.device_size(self.drbd_device)
        return facts.device_size(self.device) - self.overhead

    @property
    def inner(self) -> str | None:
        """/dev/drbdN when the resource is up, else None."""
        from . import facts

        return self.drbd_device if facts.is_up(self.resource) else None

    def open(self) -> str:
        """Bring the resource up (if it is not) and return its device."""
        from . import facts, ops

        if not facts.is_up(self.resource):
            ops.up(self.resource)
        return self.drbd_device

    def close(self) -> None:
        """Take the resource down."""
        from . import ops

        ops.down(self.resource)

    def resize(self, size: int | None) -> None:
        """Make the DRBD device ``size`` bytes, or fill the backing device (None): ``drbdadm resize``."""
        from . import ops

        ops.resize(self.resource, size)
