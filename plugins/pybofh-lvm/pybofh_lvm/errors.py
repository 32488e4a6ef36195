"""LVM-specific errors: catch by domain, or by the core's meaning (not found, bad input)."""

from __future__ import annotations

from pybofh_core.errors import NotFoundError, PybofhError, ValidationError


class LvmError(PybofhError):
    """Base of the errors pybofh-lvm raises itself."""


class VgNotFoundError(LvmError, NotFoundError):
    """No volume group of that name."""


class LvNotFoundError(LvmError, NotFoundError):
    """No logical volume of that name in the volume group."""


class PvNotFoundError(LvmError, NotFoundError):
    """The device is not an LVM physical volume."""


class ExtentSizeError(LvmError, ValidationError):
    """A requested size is not a whole number of the volume group's extents (LVM would silently round it)."""
