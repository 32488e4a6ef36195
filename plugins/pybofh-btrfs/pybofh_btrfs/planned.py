"""The btrfs part of a dry run's planning model: its kinds, and how a path reads with them laid over the system.

``effects`` writes these kinds; ``checks`` and ``facts`` read them through :func:`lookup`, so a step planned after
another sees what that one made or removed (a real run needs none of it: outside a dry run there is no model).

- ``btrfs.subvolume`` (``SUBVOLUME``): key the host path of a subvolume's root, value the ``PlannedSubvolume`` a
  planned ``create_subvolume``/``snapshot``/``receive`` makes (``GONE`` after a planned ``delete_subvolume``). Its
  id and UUID are placeholders (``<id of subvolume /mnt/snap>``), the same text wherever a later step uses them.
- ``btrfs.stream`` (``STREAM``): key the path of a send-stream file, value the ``SendStream`` a planned ``send``
  writes (``GONE`` after a planned ``remove_stream``).
- ``btrfs.default`` (``DEFAULT``): key a filesystem (``fs_key``), value the ``Subvolume`` a planned
  ``set_default_subvolume`` made its default.

A leaf of the plugin: it imports only pybofh-core, so ``checks`` (which ``facts`` imports) can use it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from pybofh_core.model import GONE, Placeholder, PlanModel, placeholder
from pybofh_core.runner import get_runner

SUBVOLUME, STREAM, DEFAULT = "btrfs.subvolume", "btrfs.stream", "btrfs.default"


@dataclass(frozen=True)
class PlannedSubvolume:
    """A subvolume a planned step makes: where its root is, its id and UUID (placeholders), whether it is read-only,
    and whose files it holds (``content``: the real subvolume a snapshot or a received stream copies, as it is
    now; None: none, a new subvolume is empty)."""

    path: str
    id: Placeholder
    uuid: Placeholder
    readonly: bool = False
    content: str | None = None


def id_placeholder(path: str) -> Placeholder:
    """The id a planned step's subvolume at ``path`` gets (``<id of subvolume /mnt/snap>``)."""
    return placeholder(f"id of subvolume {path}")


def uuid_placeholder(path: str) -> Placeholder:
    """The UUID a planned step's subvolume at ``path`` gets (``<uuid of subvolume /mnt/snap>``)."""
    return placeholder(f"uuid of subvolume {path}")


def model() -> PlanModel | None:
    """The dry run's planning model; None where commands really run."""
    return get_runner().model


@dataclass(frozen=True)
class Lookup:
    """What a path is as the planned steps leave it: ``obj`` when a planned step decides (a ``PlannedSubvolume``, a
    ``SendStream``, or ``GONE`` for a path removed or never made), else the ``real`` path to ask the system about;
    ``copied`` when that real path is inside a subvolume a planned snapshot or receive copies."""

    obj: Any = None
    real: str | None = None
    copied: bool = False


def lookup(path: str) -> Lookup:
    """Where to find out what ``path`` (normalised, absolute) is: the nearest planned subvolume or stream at it or
    above it decides, and inside a planned copy the path maps to the real subvolume it copies; otherwise the system.
    """
    found = model()
    if found is None:
        return Lookup(real=path)
    return _lookup(found.touched(SUBVOLUME), found.touched(STREAM), path)


def _lookup(subs: dict[str, Any], streams: dict[str, Any], path: str) -> Lookup:
    if path in streams:
        return Lookup(obj=streams[path])
    at, rest = path, ""
    while subs:
        hit = subs.get(at)
        if hit is not None:
            if at == path:
                return Lookup(obj=hit)
            if hit is GONE or hit.content is None:  # inside a removed subvolume, or a new empty one
                return Lookup(obj=GONE)
            return Lookup(real=posixpath.join(hit.content, rest), copied=True)
        if at == "/":
            break
        at, name = posixpath.split(at)
        rest = posixpath.join(name, rest) if rest else name
    return Lookup(real=path)


def subvolume_at(path: str) -> PlannedSubvolume | None:
    """The planned subvolume whose root is ``path``, or None."""
    hit = lookup(path).obj
    return hit if isinstance(hit, PlannedSubvolume) else None


def containing(path: str) -> PlannedSubvolume | None:
    """The planned subvolume ``path`` is in (its root, or a path below it that is not another subvolume), or None
    when the path is in a real subvolume."""
    found = model()
    subs = found.touched(SUBVOLUME) if found is not None else {}
    at = path
    while subs:
        hit = subs.get(at)
        if isinstance(hit, PlannedSubvolume):
            return hit
        if hit is GONE or at == "/":
            return None
        at = posixpath.dirname(at)
    return None


def children(directory: str) -> dict[str, Any]:
    """The planned subvolumes directly in ``directory``, and those removed from it (``GONE``), by name."""
    found = model()
    if found is None:
        return {}
    return {posixpath.basename(k): v for k, v in found.touched(SUBVOLUME).items()
            if posixpath.dirname(k) == directory and k != directory}


__all__ = ["DEFAULT", "STREAM", "SUBVOLUME", "Lookup", "PlannedSubvolume", "children", "containing",
           "id_placeholder", "lookup", "model", "subvolume_at", "uuid_placeholder"]
