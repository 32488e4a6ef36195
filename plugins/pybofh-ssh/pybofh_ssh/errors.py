"""Errors of the ssh transport: a host that cannot be reached is told apart from a command that failed on it."""

from __future__ import annotations

from pybofh_core.errors import CommandError


class HostUnreachableError(CommandError):
    """ssh itself failed (exit 255 before the remote command started, or the connection died under it).

    Causes: connection refused or timed out, name resolution, host key or authentication failure. ``returncode`` is
    None (no remote exit status exists); ``stderr`` holds ssh's own diagnostics; ``host`` names the destination.
    """
