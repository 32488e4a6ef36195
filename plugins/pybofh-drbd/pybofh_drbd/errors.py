"""DRBD's domain errors: catch ``DrbdError`` for anything DRBD-specific, or the core parents by meaning."""

from __future__ import annotations

from pybofh_core.errors import NotFoundError, PybofhError, ToolUnavailableError


class DrbdError(PybofhError):
    """Base of the DRBD plugin's own errors."""


class ResourceNotFoundError(DrbdError, NotFoundError):
    """The resource is not defined in the DRBD configuration of this host."""


class ResourceDownError(DrbdError, NotFoundError):
    """The resource is defined but not up (no kernel state to report)."""


class DrbdUnavailableError(DrbdError, ToolUnavailableError):
    """The DRBD kernel module is not loaded (no /proc/drbd) or drbd-utils are missing."""


class SyncTimeoutError(DrbdError):
    """A resync did not finish within the given time."""


class SyncImpossibleError(DrbdError):
    """A resync cannot finish: the resource is StandAlone, diskless, or its peer is gone."""
