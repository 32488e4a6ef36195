"""pybofh-btrfs's part of ``bofh status``: each mounted btrfs filesystem with its subvolume and snapshot counts.

One ``findmnt -t btrfs`` finds the mounts (subvolumes of one filesystem share its ``MAJ:MIN``), then one
``btrfs subvolume list`` per filesystem counts its subvolumes; sizes are in the filesystems section (pybofh-blockdev).
"""

from __future__ import annotations

from typing import Any

from pybofh_core.runner import run
from pybofh_core.status import UNAVAILABLE, StatusSection, describe_failure, section

from . import parsers
from .facts import BTRFS, btrfs_mounts
from .types import MountEntry


def count_subvolumes(path: str) -> tuple[int, int]:
    """(subvolumes, snapshots) of the filesystem mounted at ``path`` from one ``btrfs subvolume list -puqR``; a
    snapshot is a subvolume with a parent UUID. The top level (id 5) is not counted."""
    res = run([BTRFS, "subvolume", "list", "-puqR", "--", path], readonly=True)
    subs = parsers.parse_subvolume_list(res.stdout, source="btrfs subvolume list -puqR")
    return len(subs), sum(1 for s in subs if s.parent_uuid)


def filesystem_rows(mounts: list[MountEntry] | None = None) -> list[dict[str, Any]]:
    """One row per mounted btrfs filesystem: device, mountpoints, subvolumes and snapshots. A filesystem whose
    subvolumes cannot be listed gets an ``error`` instead of counts; a missing ``btrfs`` tool fails the section."""
    mounts = btrfs_mounts() if mounts is None else mounts
    groups: dict[str, list[MountEntry]] = {}
    for m in mounts:
        groups.setdefault(m.majmin or m.source or m.target, []).append(m)
    rows = []
    for entries in groups.values():
        top = next((m for m in entries if m.fsroot in (None, "/")), entries[0])
        source = top.source or ""
        row: dict[str, Any] = {"device": source[: source.rindex("[")] if source.endswith("]") else source or None,
                               "mountpoints": list(dict.fromkeys(m.target for m in entries)),
                               "subvolumes": None, "snapshots": None}
        try:
            row["subvolumes"], row["snapshots"] = count_subvolumes(top.target)
        except Exception as exc:  # one filesystem's failure stays in its row (a missing tool: the section's)
            state, reason = describe_failure(exc)
            if state == UNAVAILABLE:
                raise
            row["error"] = reason
        rows.append(row)
    return rows


def sections() -> list[StatusSection]:
    """The mounted btrfs filesystems with their subvolume counts."""
    return [section("btrfs", "btrfs filesystems", filesystem_rows, order=50,
                    columns=("device", "subvolumes", "snapshots", "mountpoints"))]
