"""LVM in the block-device stack model: an LV as a resizable device, a PV as the content of a device."""

from __future__ import annotations

import re

from pybofh_core.errors import ValidationError
from pybofh_core.layers import Layer
from pybofh_core.runner import Runner, get_runner

from . import facts
from .types import LogicalVolume

_CANDIDATE = re.compile(r"^/dev/(mapper/[^/]+|dm-\d+|[^/]+/[^/]+)$")


class LvLayer(Layer):
    """A logical volume as the outermost device of a stack: opens to itself, resizes with ``lvresize`` (not ``-r``:
    the stack resizes the content itself), in steps of the VG's extent size."""

    kind = "lvm_lv"
    container = True

    def __init__(self, device: str, lv: LogicalVolume, extent_size: int) -> None:
        super().__init__(device)
        self.lv = lv
        self.extent_size = extent_size

    @property
    def granularity(self) -> int:
        """The VG's extent size: an LV is always a whole number of extents."""
        return self.extent_size

    def open(self) -> str:
        """The LV's device itself (activating is a separate, explicit operation)."""
        return self.device

    @property
    def inner(self) -> str:
        """The LV's device itself."""
        return self.device

    def resize(self, size: int | None) -> None:
        """Make the LV exactly ``size`` bytes with ``resize_lv()`` (journalled in atomic blocks)."""
        if size is None:
            raise ValidationError(f"{self.lv.full_name}: an LV has no outer device to fill; give a size in bytes")
        from .ops import resize_lv

        resize_lv(self.lv.vg, self.lv.name, size)


class PvLayer(Layer):
    """An LVM physical volume as the content of a device (``TYPE=LVM2_member``): a leaf for the stack, since a VG is
    not one inner device; resizing it runs ``pvresize``."""

    kind = "lvm2_member"
    container = False

    @property
    def granularity(self) -> int:
        """The extent size of the PV's VG (512 for a PV in no VG)."""
        pv = facts.get_pv(self.device)
        if pv.vg is None:
            return 512
        return facts.get_vg(pv.vg).extent_size or 512

    @property
    def overhead(self) -> int:
        """Bytes before the first extent (label, metadata area): ``pe_start``."""
        return facts.get_pv(self.device).pe_start or 0

    def resize(self, size: int | None) -> None:
        """Make the PV claim ``size`` bytes of its device (None: all of it) via ``resize_pv()``."""
        from .ops import resize_pv

        resize_pv(self.device, size)


def probe_device(device: str) -> LvLayer | None:
    """An ``LvLayer`` when ``device`` (``/dev/VG/LV``, ``/dev/mapper/VG-LV`` or ``/dev/dm-N``) is a visible LV.

    Runs ``lvs`` and ``vgs`` (read-only) only for paths of those shapes and only when LVM is installed.
    """
    if not isinstance(device, str) or not _CANDIDATE.match(device) or get_runner().which("lvs") is None:
        return None
    runner = get_runner()  # paths are resolved where lvs runs
    exists = _exists(runner, device)
    for lv in facts.list_lvs():
        paths = (lv.path, lv.mapper_path)
        if device in paths or (exists and any(_exists(runner, p) and runner.same_path(p, device) for p in paths)):
            extent = facts.get_vg(lv.vg).extent_size
            if extent is None:
                return None
            return LvLayer(device, lv, extent)
    return None


def _exists(runner: Runner, path: str) -> bool:
    """Whether ``path`` resolves to something where commands run (``os.path.exists``: a dangling link does not)."""
    try:
        return runner.path_kind(path) is not None
    except ValidationError:  # cannot be looked at
        return False


def probe_layer(device: str, probe: dict[str, str]) -> PvLayer | None:
    """A ``PvLayer`` when the low-level probe says the device holds an LVM2 PV label."""
    if probe.get("TYPE") == "LVM2_member":
        return PvLayer(device)
    return None
