"""The planning model: what a dry run's steps created, changed or removed, so later steps plan on it.

A dry run records commands instead of running them, so without a model the second step of a job plans against a
system the first step never changed (``create_lv`` of a VG that ``create_vg`` only planned: "volume group does not
exist"). Each operation declares its effect next to its inverse (``@operation(effects=...)``): in a dry run it is
written into the ``PlanModel`` of the dry-run runner, as objects keyed by kind (``lvm.vg``) and name, and a
plugin's facts read the real state with the model laid over it (``PlanModel.overlay``). A value that cannot be
known before the run — a new UUID — is a ``Placeholder`` such as ``<uuid of VG vg0>``, the same text wherever a
later step or an undo uses it. The dry-run runner holds the model (``get_runner().model``); a real runner has none
(None), and facts then read only the system. A leaf module: it imports nothing of pybofh.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class Placeholder(str):
    """A value known only once the run has made its object (``<uuid of VG vg0>``): text, so it flows through
    arguments, plans and undos unchanged, and recognisable, so a comparison of a plan with a run can set it aside."""

    __slots__ = ()


def placeholder(what: str) -> Placeholder:
    """The placeholder of ``what`` (``placeholder("uuid of VG vg0")`` is ``<uuid of VG vg0>``)."""
    return Placeholder(f"<{what}>")


def planned_path(prefix: str, what: str) -> Placeholder:
    """The placeholder of a path known only once the run made it: ``prefix`` and ``(what)``, such as
    ``/tmp/pybofh-resize-(made by mktemp)`` — a valid path (``<`` and ``>`` are refused in paths), so every later
    check of a path accepts it; ``pybofh_core.testing.PLACEHOLDER`` recognises both forms."""
    return Placeholder(f"{prefix}({what})")


#: The kind of planned block devices (an LV, an opened LUKS mapping, a loop device…): key the device path, value a
#: ``PlannedDevice``. The dry-run runner's "where" answers (``stat``, ``exists``, ``realpath``) see them.
BLOCK = "block"


#: The kind of directories a planned step made (a temporary mountpoint): key the path, value True. The dry-run
#: runner's "where" answers see them as directories.
DIR = "dir"

#: The kind of real block devices a planned step resized (an LV, a LUKS mapping, a loop device): key the device path
#: (as given, and as it resolves), value its new size in bytes. ``PlanModel.resize_device`` picks BLOCK or SIZE.
SIZE = "block.size"


@dataclasses.dataclass(frozen=True)
class PlannedDevice:
    """A block device a planned step makes: its path and size (bytes), and — when it shows content that exists but
    cannot be read before the run (an opened LUKS mapping over a real header) — what that content is (``sealed``),
    so a plan says so instead of taking the device for empty."""

    path: str
    size: int
    sealed: str | None = None


class _Gone:
    """Marks an object a planned step removed."""

    def __repr__(self) -> str:
        return "GONE"

    def __copy__(self) -> _Gone:
        return self  # one marker: ``is GONE`` must hold in a copied model too

    def __deepcopy__(self, memo: dict[int, Any]) -> _Gone:
        return self


GONE: Any = _Gone()


class PlanModel:
    """The overlay a dry run plans on: per kind (``lvm.pv``, ``lvm.vg``, ``lvm.lv``…), the objects the planned steps
    made or changed (by key), and the keys of those they removed."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, Any]] = {}

    def put(self, kind: str, key: str, obj: Any) -> None:
        """A planned step made ``obj`` (or changed it into ``obj``)."""
        self._objects.setdefault(kind, {})[key] = obj

    def remove(self, kind: str, key: str) -> None:
        """A planned step removed the object ``key`` of ``kind``."""
        self._objects.setdefault(kind, {})[key] = GONE

    def get(self, kind: str, key: str) -> Any:
        """The planned object, ``GONE`` if a step removed it, or None if no step touched it."""
        return self._objects.get(kind, {}).get(key)

    def touched(self, kind: str) -> dict[str, Any]:
        """Every object of ``kind`` a planned step touched (``GONE`` for removed ones)."""
        return dict(self._objects.get(kind, {}))

    def overlay(self, kind: str, real: Iterable[T], key: Callable[[T], str]) -> list[T]:
        """``real`` (the objects as the system reports them) as the planned steps leave them: changed ones replaced,
        removed ones dropped, new ones appended in the order they were planned."""
        planned = self._objects.get(kind)
        if not planned:
            return list(real)
        out: list[T] = []
        seen: set[str] = set()
        for obj in real:
            k = key(obj)
            seen.add(k)
            hit = planned.get(k)
            if hit is None:
                out.append(obj)
            elif hit is not GONE:
                out.append(hit)
        out += [obj for k, obj in planned.items() if k not in seen and obj is not GONE]
        return out

    def device_size(self, path: str) -> int | None:
        """The size (bytes) a planned step made or resized the device at ``path`` to; None if no step did."""
        made = self.get(BLOCK, path)
        if isinstance(made, PlannedDevice):
            return made.size
        resized = self.get(SIZE, path)
        return resized if isinstance(resized, int) else None

    def resize_device(self, size: int, *paths: str) -> None:
        """A planned step gave the device known by ``paths`` (its names) ``size`` bytes: a planned device gets the
        new size, a real one is recorded under SIZE."""
        for path in dict.fromkeys(paths):
            made = self.get(BLOCK, path)
            if isinstance(made, PlannedDevice):
                self.put(BLOCK, path, dataclasses.replace(made, size=size))
            else:
                self.put(SIZE, path, size)

    def copy(self) -> PlanModel:
        """An independent copy (the undo plan works on one, so the steps' plan keeps its own)."""
        other = PlanModel()
        other._objects = copy.deepcopy(self._objects)
        return other


__all__ = ["BLOCK", "DIR", "GONE", "SIZE", "Placeholder", "PlanModel", "PlannedDevice", "placeholder", "planned_path"]
