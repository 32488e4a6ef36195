"""Errors of the ssh transport: a host that cannot be reached is told apart from a command that failed on it."""

from __future__ import annotations

from pybofh_core.errors import HostUnreachableError, PybofhError


class SshError(PybofhError):
    """Root of the errors the ssh plugin defines itself (``HostUnreachableError`` is the core's: callers catch it
    without this plugin)."""


__all__ = ["HostUnreachableError", "SshError"]  # HostUnreachableError is defined in the core
