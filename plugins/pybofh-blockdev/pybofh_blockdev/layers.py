"""The block-device stack model: a device, the layers on it (LUKS, PV… from other plugins), and a leaf filesystem.

``BlockDeviceStack`` asks the ``pybofh_probe_device`` hook what the outer device is (a loop device here; an
LV from pybofh-lvm) and ``pybofh_probe_layer`` what each device contains, opening container layers down to the
leaf. ``resize`` changes the whole stack: growing goes outer→inner, shrinking inner→outer, every size a multiple
of the least common multiple of the layers' granularities, each container's overhead subtracted on the way in.

Layers use the core ``Layer`` sizes (``current_size()``, ``minimum_size()``,
``can_shrink``/``can_grow``); a layer that does not override them is treated as unbounded and resizable.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pybofh_core.errors import ValidationError
from pybofh_core.layers import Layer, common_granularity
from pybofh_core.lazy import lazy_api
from pybofh_core.validate import size_spec, size_text

from . import facts
from .types import EXT_FAMILY

MAX_DEPTH = 16


SizedLayer = Layer
"""Kept for compatibility: sizes (``current_size``, ``minimum_size``, ``can_shrink``) are part of the core Layer."""


class LoopDeviceLayer(SizedLayer):
    """A loop device itself: resized by resizing its backing file and telling the kernel (``losetup -c``)."""

    kind = "loop"
    container = True

    def open(self) -> str:
        """A loop device is its own inner device."""
        return self.device

    @property
    def inner(self) -> str:
        """Always available while attached."""
        return self.device

    def current_size(self) -> int:
        """The loop device's size (``blockdev --getsize64``)."""
        return facts.get_size(self.device)

    def resize(self, size: int | None) -> None:
        """Make the loop device ``size`` bytes (it has no outer device to fill, so None is refused)."""
        from .ops import resize_loop

        if size is None:
            raise ValidationError(f"{self.device}: a loop device needs an explicit size")
        resize_loop(self.device, size)


class FixedDeviceLayer(SizedLayer):
    """A device no plugin knows how to resize (a disk, a partition): its size is what it is."""

    kind = "device"
    container = True
    can_shrink = False
    can_grow = False

    def open(self) -> str:
        """The device is its own inner device."""
        return self.device

    @property
    def inner(self) -> str:
        """Always available."""
        return self.device

    def current_size(self) -> int:
        """The device's size."""
        return facts.get_size(self.device)

    def resize(self, size: int | None) -> None:
        """Refuse: no installed plugin can resize this kind of device."""
        raise ValidationError(f"no installed plugin can resize {self.device} itself (not a loop device or LV)")


class FilesystemLayer(SizedLayer):
    """A filesystem or swap area: the leaf of a stack, resized by ``resize_filesystem()``."""

    container = False

    def __init__(self, device: str, fstype: str) -> None:
        super().__init__(device)
        self.kind = fstype
        self.can_shrink = fstype != "xfs"

    @property
    def granularity(self) -> int:
        """The filesystem block size (ext: from its superblock; btrfs, xfs, swap: 4096)."""
        if self.kind in EXT_FAMILY:
            return int(facts.ext_info(self.device)["block_size"])
        return 4096

    def current_size(self) -> int | None:
        """The filesystem's own size, read from its superblock (ext, xfs, btrfs's device item, the swap header)."""
        return facts.content_size(self.device, self.kind)

    def minimum_size(self) -> int:
        """ext: ``resize2fs -P``; btrfs: the kernel's 256 MiB floor (its data minimum is checked while mounted)."""
        from .ops import BTRFS_RESIZE_MIN

        if self.kind in EXT_FAMILY:
            return facts.ext_minimum_size(self.device)
        if self.kind == "btrfs":
            return BTRFS_RESIZE_MIN
        return 0

    def resize(self, size: int | None) -> None:
        """Resize the filesystem (mounting xfs/btrfs on a temp dir if needed)."""
        from .ops import resize_filesystem

        resize_filesystem(self.device, size, temp_mount=True)


class EmptyLayer(SizedLayer):
    """A device blkid finds nothing on: any size will do, nothing to resize."""

    kind = "empty"

    def resize(self, size: int | None) -> None:
        """Nothing to do."""


class SealedLayer(SizedLayer):
    """In a dry run, the content of a device a planned step opens over real data (a LUKS mapping): a dry run never
    opens it, so what it holds is known only to the run, which resizes it as it finds it. The plan lists this layer
    (its kind says so) and plans no command for it."""

    def __init__(self, device: str, what: str) -> None:
        super().__init__(device)
        self.kind = f"{what}: known once opened, resized by the run as found"

    def current_size(self) -> int | None:
        """Unknown before the run."""
        return None

    def resize(self, size: int | None) -> None:
        """Nothing to plan: the run probes the opened device and resizes what it finds there."""


class UnknownLayer(SizedLayer):
    """Content no installed plugin understands (e.g. LUKS without pybofh-crypt): the stack cannot be resized."""

    can_shrink = False
    can_grow = False

    def __init__(self, device: str, kind: str) -> None:
        super().__init__(device)
        self.kind = kind

    def resize(self, size: int | None) -> None:
        """Refuse, naming the content."""
        raise ValidationError(f"{self.device} contains {self.kind}, which no installed plugin can resize")


def layer_for_probe(device: str, probe: Mapping[str, str]) -> Layer:
    """The generic answer of pybofh-blockdev to "what does this device contain" (registered ``trylast``)."""
    if probe.get(facts.SEALED):
        return SealedLayer(device, probe[facts.SEALED])
    kind = probe.get("TYPE")
    if kind in ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap"):
        return FilesystemLayer(device, kind)
    if not probe:
        return EmptyLayer(device)
    if probe.get("AMBIVALENT"):
        return UnknownLayer(device, "several conflicting signatures")
    if kind is None and probe.get("PTTYPE"):
        return UnknownLayer(device, f"a {probe['PTTYPE']} partition table")
    return UnknownLayer(device, kind or "unrecognised content")


def device_layer(device: str) -> Layer | None:
    """The answer to "what is this device itself" for loop devices (others: None)."""
    from pybofh_core.runner import get_runner

    if re.fullmatch(r"/dev/loop[0-9]+", device) or re.fullmatch(r"/dev/loop[0-9]+", get_runner().realpath(device)):
        return LoopDeviceLayer(device)
    return None


@dataclass(frozen=True, slots=True)
class StackResized:
    """What a stack resize did: the requested and effective (rounded) sizes, and each layer's target."""

    device: str
    requested: int
    size: int
    granularity: int
    direction: str
    layers: tuple[tuple[str, str, int], ...]


def _hook() -> Any:
    from pybofh_core.session import get_plugins

    return get_plugins().pm.hook


def plugin_layer(device: str, probe: Mapping[str, str]) -> Layer | None:
    """The layer an installed plugin recognises on ``device`` from its ``probe`` (LUKS, a PV…), None when no
    plugin claims it (``pybofh_probe_layer``)."""
    layer: Layer | None = _hook().pybofh_probe_layer(device=device, probe=probe)
    return layer


class BlockDeviceStack:
    """The layers of one device, outer first: ``layers[0]`` is the device itself, the last one the leaf content."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.layers: list[Layer] = []
        self._opened: list[Layer] = []

    @classmethod
    @contextlib.contextmanager
    def open(cls, device: str) -> Iterator[BlockDeviceStack]:
        """Probe ``device`` and open its container layers one by one; close what was opened, in reverse, on exit."""
        from .checks import check_device

        stack = cls(check_device(device))
        try:
            stack._build()
            yield stack
        finally:
            stack.close()

    @classmethod
    def outer_only(cls, device: str) -> BlockDeviceStack:
        """The stack of ``device`` itself and nothing inside it: its content is neither probed nor opened (a disk a
        running guest owns: what it holds is the guest's business)."""
        from .checks import check_device

        stack = cls(check_device(device))
        stack.layers.append(_hook().pybofh_probe_device(device=stack.device) or FixedDeviceLayer(stack.device))
        return stack

    def grow(self, size: int | str, round: str | None = None) -> StackResized:  # noqa: A002
        """Resize to ``size`` (see ``plan()``) only when that is a grow (or no change): a stack of the outer device
        alone (``outer_only``) leaves its content as it is, which a shrink would cut off."""
        rounded = self.plan(size, round)[0]
        current = facts.get_size(self.device)
        if rounded < current:
            raise ValidationError(f"{self.device}: {size_text(rounded)} is below its {size_text(current)}; only a "
                                  "grow leaves its content alone (shrink it with what is inside through resize_stack)")
        return self.resize(size, round)

    def _build(self) -> None:
        hook = _hook()
        outer = hook.pybofh_probe_device(device=self.device) or FixedDeviceLayer(self.device)
        current = self._enter(outer)
        self.layers.append(outer)
        for _ in range(MAX_DEPTH):
            probe = facts.probe(current)
            layer = plugin_layer(current, probe) or layer_for_probe(current, probe)
            self.layers.append(layer)
            if not layer.container:
                return
            current = self._enter(layer)
        raise ValidationError(f"{self.device}: more than {MAX_DEPTH} nested layers")

    def _enter(self, layer: Layer) -> str:
        inner = layer.inner
        if inner is None:
            inner = layer.open()
            if inner is None:
                raise ValidationError(f"{layer!r} is a container but opened to no device")
            self._opened.append(layer)
        return inner

    def close(self) -> None:
        """Close the layers this stack opened, innermost first."""
        while self._opened:
            self._opened.pop().close()

    @property
    def leaf(self) -> Layer:
        """The innermost layer (a filesystem, swap, empty or unknown content)."""
        return self.layers[-1]

    @property
    def granularity(self) -> int:
        """The size step of the whole stack (lcm of every layer's granularity)."""
        return common_granularity(self.layers)

    def plan(self, size: int | str, round: str | None = None) -> tuple[int, int, list[tuple[Layer, int]]]:  # noqa: A002
        """Validate a resize of the outer device to ``size``; return (size in bytes, step, [(layer, target)]).

        ``size``: absolute (a multiple of the stack's step, the lcm of its layers' granularities, unless ``round`` is
        ``"up"``/``"down"``), or relative to the outer device's current size (``+100M``, ``-1G``; rounded down).
        """
        spec = size_spec(size, what="stack size")
        step = self.granularity
        current = facts.get_size(self.device) if spec.relative else None
        rounded = spec.resolve(current=current, what="stack size", step=step, round=round,
                               unit="the stack's size step: the least common multiple of its layers' granularities")
        targets: list[tuple[Layer, int]] = []
        outer_size = rounded
        for layer in self.layers:
            content = outer_size - max(0, layer.overhead)
            if content <= 0:
                raise ValidationError(f"{size_text(rounded)} leave nothing inside {layer!r} "
                                      f"(overhead {size_text(layer.overhead)})")
            targets.append((layer, content))
            outer_size = content
        return rounded, step, targets

    def resize(self, size: int | str, round: str | None = None) -> StackResized:  # noqa: A002
        """Resize the outer device to ``size`` (see ``plan()``) and every layer inside it.

        Growing resizes outer→inner, shrinking inner→outer; a shrink below the leaf's minimum, a shrink of a layer
        that cannot shrink (xfs) or any resize through content no plugin understands is refused before anything runs.
        """
        rounded, step, targets = self.plan(size, round)
        current = facts.get_size(self.device)
        direction = "grow" if rounded > current else "shrink" if rounded < current else "none"
        for layer, _target in targets:
            if direction == "shrink" and not getattr(layer, "can_shrink", True):
                raise ValidationError(f"{layer.device} ({layer.kind}) cannot shrink")
            if direction == "grow" and not getattr(layer, "can_grow", True):
                raise ValidationError(f"{layer.device} ({layer.kind}) cannot grow")
        if direction == "shrink":
            leaf, leaf_target = targets[-1]
            minimum = leaf.minimum_size() if isinstance(leaf, SizedLayer) else 0
            if leaf_target < minimum:
                raise ValidationError(
                    f"{leaf.device}: shrinking the stack to {rounded} bytes leaves {leaf_target} bytes for "
                    f"{leaf.kind}, below its minimum of {minimum} bytes"
                )
        order = list(reversed(targets)) if direction == "shrink" else targets
        for layer, target in order:  # at equal size this lets inner layers grow to fill their outer device
            layer.resize(target)
        return StackResized(
            device=self.device, requested=spec_bytes(size, rounded), size=rounded, granularity=step,
            direction=direction,
            layers=tuple((layer.kind, layer.device, target) for layer, target in targets),
        )


def spec_bytes(size: int | str, resolved: int) -> int:
    """The bytes asked for: an absolute size as written, a relative one as resolved."""
    spec = size_spec(size, what="stack size")
    return resolved if spec.relative else spec.amount


# ``resize_stack`` moved to ``ops`` (where the operations are); ``layers.resize_stack`` still finds it, imported on
# first use (``ops`` imports this module)
__getattr__, __dir__ = lazy_api(__name__, {"resize_stack": "ops"}, package=__package__)
