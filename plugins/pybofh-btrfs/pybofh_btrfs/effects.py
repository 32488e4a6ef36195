"""What btrfs operations do to the planning model of a dry run (``@operation(effects=...)`` in ``ops``).

The kinds are in ``planned`` (read back by ``checks`` and ``facts``, so a later planned step sees the plan's state):

- A planned ``create_subvolume`` puts an empty subvolume at its path; ``snapshot`` one holding what its source
  holds (read-only or not); ``receive`` a read-only one at ``DEST/NAME`` holding what the sent snapshot holds. Each
  has the placeholders ``<id of subvolume PATH>`` and ``<uuid of subvolume PATH>`` for what only the run knows.
- A planned ``delete_subvolume`` removes it (``GONE``): later checks find nothing there, as the run's would.
- A planned ``send`` puts its stream file (``STREAM``), which a planned ``receive`` then finds; ``remove_stream``
  removes it.
- A planned ``set_default_subvolume`` makes the subvolume its filesystem's default (``DEFAULT``, by ``fs_key``), so
  a later delete of it is refused and a later change of the default is undone back to it.

``send_receive`` and ``rotate_snapshots`` are composites: their inner steps' effects are theirs. ``send_to``,
balance and scrub change nothing a later step checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pybofh_core.model import PlanModel

from . import facts, planned
from .checks import check_path
from .types import FS_TREE_ID, CreatedSubvolume, DefaultChange, SendStream, Subvolume


def _content(path: str) -> str | None:
    """The real subvolume whose files the subvolume at ``path`` holds as the plan leaves it (itself if real)."""
    made = planned.subvolume_at(path)
    return path if made is None else made.content


def _put(model: PlanModel, result: CreatedSubvolume, content: str | None) -> None:
    """The subvolume ``result`` names, with placeholders for what only the run knows."""
    if not result.path:  # a receive whose subvolume's name is known only after the run
        return
    model.put(planned.SUBVOLUME, result.path, planned.PlannedSubvolume(
        path=result.path, id=planned.id_placeholder(result.path),
        uuid=planned.uuid_placeholder(result.path), readonly=result.readonly, content=content))


def subvolume_created(model: PlanModel, result: CreatedSubvolume, args: Mapping[str, Any]) -> None:
    """``create_subvolume``: an empty subvolume."""
    _put(model, result, None)


def snapshot_taken(model: PlanModel, result: CreatedSubvolume, args: Mapping[str, Any]) -> None:
    """``snapshot``: a subvolume holding what its source holds."""
    _put(model, result, _content(result.source) if result.source else None)


def received(model: PlanModel, result: CreatedSubvolume, args: Mapping[str, Any]) -> None:
    """``receive``: a read-only subvolume holding what the sent snapshot holds (unknown for a stream no planned
    ``send`` wrote)."""
    stream = model.get(planned.STREAM, check_path(args["stream_file"], what="stream file"))
    _put(model, result, _content(stream.snapshot) if isinstance(stream, SendStream) else None)


def subvolume_deleted(model: PlanModel, result: Any, args: Mapping[str, Any]) -> None:
    """``delete_subvolume``: nothing is at the path any more."""
    model.remove(planned.SUBVOLUME, check_path(args["path"], what="subvolume"))


def default_set(model: PlanModel, result: DefaultChange, args: Mapping[str, Any]) -> None:
    """``set_default_subvolume``: the subvolume is its filesystem's default."""
    chosen = args["subvolume"]
    if result.new_id == FS_TREE_ID:
        path = ""
    elif isinstance(chosen, str) and chosen.startswith("/"):
        path = facts.show_subvolume(chosen).path
    else:  # an id: the subvolume of that id, if the plan knows it
        path = next((s.path for s in facts.list_subvolumes(result.mountpoint) if s.id == result.new_id), "")
    model.put(planned.DEFAULT, facts.fs_key(result.mountpoint), Subvolume(id=result.new_id, path=path))


def stream_written(model: PlanModel, result: SendStream, args: Mapping[str, Any]) -> None:
    """``send``: the stream file is there."""
    model.put(planned.STREAM, result.path, result)


def stream_removed(model: PlanModel, result: Any, args: Mapping[str, Any]) -> None:
    """``remove_stream``: the stream file is gone."""
    model.remove(planned.STREAM, check_path(args["path"], what="stream file"))


__all__ = ["default_set", "received", "snapshot_taken", "stream_removed", "stream_written", "subvolume_created",
           "subvolume_deleted"]
