"""Errors of pybofh-blockdev: one root (``BlockdevError``) to catch them all by domain, each also catchable by the
core's meaning where it has one."""

from __future__ import annotations

from pybofh_core.errors import PybofhError


class BlockdevError(PybofhError):
    """Base of the errors pybofh-blockdev raises itself."""


class FilesystemErrorsLeftError(BlockdevError):
    """A filesystem check found errors it could not repair (or that only a forced repair may touch)."""


#: the name it had before every error class ended in ``Error``; kept so existing ``except`` clauses still match
FilesystemErrorsLeft = FilesystemErrorsLeftError


class MountPoolExhaustedError(BlockdevError):
    """Every slot of a MountPool is in use (by this or another process)."""
