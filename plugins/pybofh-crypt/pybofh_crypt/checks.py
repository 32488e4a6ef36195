"""Input checks of the crypt plugin, shared by its operations, readers and CLI: devices, mapping names, keys.

Each returns the checked value or raises ``ValidationError`` before any cryptsetup command ran (the device check
asks the runner, so it is answered where cryptsetup will run).
"""

from __future__ import annotations

from typing import Any

from pybofh_core.errors import ValidationError
from pybofh_core.runner import get_runner
from pybofh_core.secret import Secret
from pybofh_core.validate import named_path, validate_name, validate_path

from .types import KeyFile

MAX_KEY_BYTES = 8192 * 1024  # cryptsetup's maximum key file size
MAX_PASSPHRASE = 512  # cryptsetup's maximum interactive (line-read) passphrase length
MAPPER = "/dev/mapper/"


def check_device(value: Any, what: str = "LUKS device") -> str:
    """An existing block device or image file (cryptsetup accepts both), as an absolute path."""
    path = validate_path(value, what=what, must_exist=True)
    if get_runner().path_kind(path) not in ("block", "file"):  # asked where cryptsetup will run
        raise ValidationError(f"{what}: {path} is neither a block device nor an image file")
    return path


def check_mapping(value: Any) -> str:
    """A dm-crypt mapping name; ``/dev/mapper/NAME`` (or an ``OpenMapping``/``CryptStatus`` result, whose path it is)
    is accepted and reduced to ``NAME``."""
    value = named_path(value)
    if isinstance(value, str) and value.startswith(MAPPER):
        value = value[len(MAPPER):]
    return validate_name(value, what="mapping name")


def check_key(value: Any, what: str = "passphrase") -> Secret | KeyFile:
    """A passphrase (Secret) or a KeyFile; the value itself never appears in the error."""
    if isinstance(value, KeyFile):
        validate_path(value.path, what=f"{what} key file", kind="file")
        return value
    if not isinstance(value, Secret):
        raise ValidationError(f"{what}: expected a Secret, str, bytes or KeyFile, got {type(value).__name__}")
    size = len(value.encode())
    if size == 0:
        raise ValidationError(f"{what}: must not be empty")
    if size > MAX_KEY_BYTES:
        raise ValidationError(f"{what}: longer than cryptsetup's limit of {MAX_KEY_BYTES} bytes")
    return value


def line_safe(key: Secret | KeyFile) -> bool:
    """Whether a passphrase can be read by cryptsetup as one stdin line (no newline, not too long)."""
    if isinstance(key, KeyFile):
        return False
    value = key.reveal()
    return "\n" not in value and "\r" not in value and 0 < len(value) <= MAX_PASSPHRASE
