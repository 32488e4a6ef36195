"""The plugin's errors: each derives from ``ChattrError`` and from the core type that gives its meaning (and exit
code), so callers catch by meaning (``except ValidationError``) or by plugin (``except ChattrError``)."""

from __future__ import annotations

from pybofh_core.errors import PybofhError, ValidationError


class ChattrError(PybofhError):
    """Base of every error of pybofh-chattr."""


class AttributesUnsupportedError(ChattrError, ValidationError):
    """The file is on a filesystem (or is a kind of file) that has no ext2-style attributes: /proc, sysfs, a device
    node. Nothing was changed (exit 2)."""
