"""Xen-specific errors; each also derives from the core type callers catch by meaning."""

from __future__ import annotations

from pybofh_core.errors import NotFoundError, PybofhError


class XenError(PybofhError):
    """Base of the errors raised by pybofh-xen."""


class DomuNotFoundError(XenError, NotFoundError):
    """No domU config (or no running domain) has that name."""


class DomuTimeoutError(XenError):
    """A domain did not reach the awaited state (e.g. gone after shutdown) within the timeout."""
