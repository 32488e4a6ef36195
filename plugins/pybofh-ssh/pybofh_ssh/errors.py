"""Errors of the ssh transport: a host that cannot be reached is told apart from a command that failed on it."""

from __future__ import annotations

from pybofh_core.errors import HostUnreachableError

__all__ = ["HostUnreachableError"]  # defined in the core so callers can catch it without this plugin


