"""The layer model's contract: what a block device contains, and how that content opens to an inner device.

A ``Layer`` sits on an *outer* device. Container layers (LUKS, an LVM PV/LV, DRBD) open to an *inner* device;
leaf layers (filesystems, swap) do not. Plugins return layers from the ``pybofh_probe_layer`` hook; pybofh-blockdev
builds stacks from them and resizes through a stack (grow outer→inner, shrink inner→outer).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod


class Layer(ABC):
    """The content of one block device."""

    #: short type name, e.g. ``luks2``, ``lvm2_member``, ``ext4``.
    kind: str = "unknown"
    #: True when :meth:`open` gives an inner block device.
    container: bool = False
    #: Whether the layer's content can be made smaller / larger (xfs cannot shrink, a disk partition may not grow).
    can_shrink: bool = True
    can_grow: bool = True

    def __init__(self, device: str) -> None:
        self.device = device

    @property
    def granularity(self) -> int:
        """Bytes the layer's size must be a multiple of (LVM extent size, 512 for LUKS…)."""
        return 512

    @property
    def overhead(self) -> int:
        """Bytes of the outer device the layer itself uses (LUKS header, PV metadata); the inner gets the rest."""
        return 0

    def current_size(self) -> int | None:
        """The layer's usable size in bytes now (None = unknown)."""
        return None

    def minimum_size(self) -> int:
        """The smallest usable size the layer can shrink to (0 = no known limit), so a stack refuses early."""
        return 0

    def open(self) -> str | None:
        """Make the inner device available and return its path (None for a leaf)."""
        return None

    def close(self) -> None:  # noqa: B027 - leaves have nothing to close
        """Remove the inner device made by ``open()``."""

    @property
    def inner(self) -> str | None:
        """The inner device if it is open now, else None."""
        return None

    @abstractmethod
    def resize(self, size: int | None) -> None:
        """Make the layer's usable content ``size`` bytes (None = fill the outer device)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.device!r})"


def common_granularity(layers: list[Layer]) -> int:
    """The size step a whole stack must respect: the least common multiple of its layers' granularities."""
    g = 1
    for layer in layers:
        g = math.lcm(g, max(1, layer.granularity))
    return g
