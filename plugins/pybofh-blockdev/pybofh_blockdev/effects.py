"""What blockdev operations do to the planning model of a dry run (``@operation(effects=...)`` in ``ops``).

Its kinds, read back by ``facts`` (``probe``, ``get_size``, ``get_device``/``list_devices``, ``list_mounts`` and
so ``mounts_of``/``mount_at``, ``list_loops``/``get_loop``) and ``checks.check_loop_device``, so a later planned
step — a mount of a filesystem only planned, a label on it, a detach — sees the plan's state:

- ``blockdev.fs`` (``FS``): key the device path, value the ``PlannedFilesystem`` a planned ``create_filesystem``
  makes (its UUID the placeholder ``<uuid of filesystem on DEVICE>`` unless one was given, its size the device's),
  changed by planned ``set_label``/``set_uuid``/``resize_filesystem``. A planned mkfs also puts the core's
  ``pybofh_core.safety.SIGNATURE`` entry, so the data checks (``refuse_if_holds_data``) see the filesystem.
- ``blockdev.mount`` (``MOUNT``): key the mountpoint, value the ``Mount`` of a planned ``mount`` (``GONE`` after a
  planned ``unmount``).
- ``blockdev.loop`` (``LOOP``): key the loop device path, value the ``LoopDevice`` of a planned ``attach_loop``
  (``GONE`` after a planned ``detach_loop``). A loop device taken with ``--find`` is known only after the run: its
  path is the placeholder ``/dev/loop(next free, for FILE)`` (``planned_loop``; a path, so every later check of a
  device path accepts it). The loop device is also a ``BLOCK`` device of the file's size.
- A planned ``resize_loop`` gives the loop device its new size in the core's model (``PlanModel.resize_device``),
  which ``pybofh_core.runner.device_size`` — and so ``get_size`` — reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pybofh_core.model import BLOCK, Placeholder, PlanModel, PlannedDevice, placeholder, planned_path
from pybofh_core.runner import run
from pybofh_core.safety import SIGNATURE, Signature

from .types import Filesystem, LoopDevice, Mount, Relabelled, Resized

FS, MOUNT, LOOP = "blockdev.fs", "blockdev.mount", "blockdev.loop"

#: The start of the path of a loop device a dry run attaches with ``--find`` (``planned_loop``).
PLANNED_LOOP_PREFIX = "/dev/loop(next free, for "


@dataclasses.dataclass(frozen=True)
class PlannedFilesystem:
    """A filesystem (or swap) a planned step made or changed: what ``blkid`` would report, and its size (bytes)."""

    device: str
    fstype: str
    uuid: str | None
    label: str | None
    size: int

    def tags(self) -> dict[str, str]:
        """The ``blkid -p -o export`` tags it would have (``TYPE``, ``USAGE``, ``UUID``, ``LABEL``)."""
        tags = {"TYPE": self.fstype, "USAGE": "other" if self.fstype == "swap" else "filesystem"}
        if self.uuid:
            tags["UUID"] = self.uuid
        if self.label:
            tags["LABEL"] = self.label
        return tags


def planned_loop(file: str) -> Placeholder:
    """The path of the loop device a planned ``attach_loop`` of ``file`` takes (known only after the run)."""
    return planned_path("/dev/loop", f"next free, for {file}")


def fs_uuid_placeholder(device: str) -> Placeholder:
    """The placeholder of the UUID a planned mkfs gives the filesystem on ``device``."""
    return placeholder(f"uuid of filesystem on {device}")


def _file_size(path: str) -> int:
    """The size of regular file ``path`` in bytes (``stat``, read-only: it runs in a dry run, where commands run)."""
    return int(run(["stat", "-L", "-c", "%s", "--", path], readonly=True).text.strip())


def _put_fs(model: PlanModel, fs: PlannedFilesystem) -> None:
    """The filesystem, and its signature for the core's data checks."""
    model.put(FS, fs.device, fs)
    model.put(SIGNATURE, fs.device, Signature(fs.fstype, 0, fs.uuid, fs.label))


def _fs_now(device: str) -> PlannedFilesystem | None:
    """The filesystem on ``device`` as the plan leaves it so far (planned, or the real one), None when none."""
    from . import facts

    planned = facts.planned(FS, device)
    if isinstance(planned, PlannedFilesystem):
        return planned
    found = facts.probe(device)
    if "TYPE" not in found:
        return None
    return PlannedFilesystem(device, found["TYPE"], found.get("UUID"), found.get("LABEL"), facts.get_size(device))


def fs_created(model: PlanModel, result: Filesystem, args: Mapping[str, Any]) -> None:
    """``create_filesystem``: a filesystem over the whole device."""
    from . import facts

    uuid = result.uuid or fs_uuid_placeholder(result.device)
    _put_fs(model, PlannedFilesystem(result.device, result.fstype, uuid, result.label, facts.get_size(result.device)))


def _fs_changed(model: PlanModel, device: str, **changes: Any) -> None:
    fs = _fs_now(device)
    if fs is not None:
        _put_fs(model, dataclasses.replace(fs, **changes))


def label_set(model: PlanModel, result: Relabelled, args: Mapping[str, Any]) -> None:
    """``set_label``: the filesystem has its new label (None: cleared)."""
    _fs_changed(model, result.device, label=result.new)


def uuid_set(model: PlanModel, result: Relabelled, args: Mapping[str, Any]) -> None:
    """``set_uuid``: the filesystem has its new UUID."""
    _fs_changed(model, result.device, uuid=result.new)


def fs_resized(model: PlanModel, result: Resized, args: Mapping[str, Any]) -> None:
    """``resize_filesystem``: the filesystem has its new size."""
    _fs_changed(model, result.device, size=result.new)


def mounted(model: PlanModel, result: Mount, args: Mapping[str, Any]) -> None:
    """``mount``: the device is mounted on the (resolved) mountpoint, with the type its filesystem has."""
    from . import facts

    fstype = result.fstype or facts.probe(result.source).get("TYPE", "")
    model.put(MOUNT, result.target, dataclasses.replace(result, fstype=fstype))


def unmounted(model: PlanModel, result: Mount, args: Mapping[str, Any]) -> None:
    """``unmount``: nothing is mounted on the target any more."""
    model.remove(MOUNT, result.target)


def loop_attached(model: PlanModel, result: LoopDevice, args: Mapping[str, Any]) -> None:
    """``attach_loop``: the loop device, a block device of its backing file's size."""
    model.put(LOOP, result.path, result)
    model.put(BLOCK, result.path, PlannedDevice(result.path, _file_size(result.backing_file)))


def loop_detached(model: PlanModel, result: LoopDevice, args: Mapping[str, Any]) -> None:
    """``detach_loop``: the loop device is free; one a planned step took with ``--find`` is gone, a named one is an
    empty (0-byte) device node again."""
    model.remove(LOOP, result.path)
    model.remove(FS, result.path)
    model.remove(SIGNATURE, result.path)
    if result.path.startswith(PLANNED_LOOP_PREFIX):
        model.remove(BLOCK, result.path)
    else:
        model.put(BLOCK, result.path, PlannedDevice(result.path, 0))


def loop_resized(model: PlanModel, result: Resized, args: Mapping[str, Any]) -> None:
    """``resize_loop``: the loop device has its new size."""
    model.resize_device(result.new, result.device)


__all__ = ["FS", "LOOP", "MOUNT", "PLANNED_LOOP_PREFIX", "PlannedFilesystem", "fs_created",
           "fs_resized", "fs_uuid_placeholder", "label_set", "loop_attached", "loop_detached", "loop_resized",
           "mounted", "planned_loop", "unmounted", "uuid_set"]
