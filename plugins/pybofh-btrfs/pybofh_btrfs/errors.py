"""Domain errors of pybofh-btrfs: catch ``BtrfsError`` for anything btrfs-specific."""

from __future__ import annotations

from pybofh_core.errors import NotFoundError, PybofhError, ValidationError


class BtrfsError(PybofhError):
    """Base of the errors only pybofh-btrfs raises."""


class NotASubvolumeError(BtrfsError, ValidationError):
    """A path that must be a btrfs subvolume is an ordinary directory (or not on btrfs)."""


class SubvolumeNotFoundError(BtrfsError, NotFoundError):
    """A subvolume path does not exist."""
