"""Identities: how an undo knows it acts on the very object its step made, not one that only shares its name.

An inverse names its object with ``undo(...).expecting(uuid=..., boot_id=...)``; the undo operation declares
``identify=`` returning a ``Verdict`` before it runs:

* ``ACT`` — the object is there and is the one the step made: run the undo.
* ``already()`` — the object is gone (or already as the undo would leave it): counted as undone.
* ``other()`` — something else is there now: left alone and reported; the journal ends ``needs-attention``.

Mounts, mappings, loop devices and activations do not survive a reboot, so their identities carry the boot id:
``same_boot()`` tells whether the object can still be the one the step made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Verdict:
    """What an undo found where its object should be."""

    action: Literal["act", "already", "other"]
    detail: str = ""


ACT = Verdict("act")


def already(detail: str) -> Verdict:
    """The object is gone, or already as the undo would leave it: nothing to do, counted as undone."""
    return Verdict("already", detail)


def other(detail: str) -> Verdict:
    """A different object is there now (say which, with both identities): it is left alone and reported."""
    return Verdict("other", detail)


def current_boot_id() -> str:
    """The boot id where commands run now (through the active runner)."""
    from .runner import get_runner

    return get_runner().boot_id()


def same_boot(identity: Mapping[str, Any]) -> bool:
    """Whether ``identity`` was taken in the current boot where commands run (no ``boot_id`` recorded: assume so)."""
    recorded = identity.get("boot_id")
    return recorded is None or recorded == current_boot_id()


def ephemeral(**identity: Any) -> dict[str, Any]:
    """``identity`` plus the current boot id, for objects that a reboot removes (mounts, mappings, loops)."""
    return {**identity, "boot_id": current_boot_id()}


__all__ = ["ACT", "Verdict", "already", "current_boot_id", "ephemeral", "other", "same_boot"]
