"""Errors of the crypt plugin; each also derives from the core type callers catch by meaning."""

from __future__ import annotations

from pybofh_core.errors import KeyNeededError, NotFoundError, PybofhError, ValidationError


class CryptError(PybofhError):
    """Base of the crypt plugin's own errors."""


class NotLuksError(CryptError, ValidationError):
    """The device holds no LUKS header."""


class PassphraseError(CryptError, ValidationError):
    """No key slot of the device accepts the given passphrase or key file."""


class MappingNotFoundError(CryptError, NotFoundError):
    """No active dm-crypt mapping has this name."""


class KeyNotFoundError(CryptError, NotFoundError, KeyNeededError):
    """No passphrase or key file is known for a LUKS device that must be opened (see ``pybofh_crypt.keys``)."""
