"""How the crypt plugin calls cryptsetup: key arguments, input checks, and cryptsetup's errors made typed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pybofh_core.errors import CommandError, NotFoundError, ToolUnavailableError, ValidationError
from pybofh_core.runner import Result, get_runner, run
from pybofh_core.secret import Secret
from pybofh_core.validate import named_path, validate_name, validate_path

from .errors import NotLuksError, PassphraseError
from .types import KeyFile

CRYPTSETUP = "cryptsetup"
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
    """A dm-crypt mapping name; ``/dev/mapper/NAME`` (or a ``Mapping``/``CryptStatus`` result, whose path it is)
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


def key_args(key: Secret | KeyFile) -> tuple[list[str], Secret | None]:
    """Argv options and stdin for an existing key: ``--key-file=-`` with the secret on stdin, or the file's path."""
    if isinstance(key, KeyFile):
        return ["--key-file", key.path], None
    return ["--key-file=-"], key


def line_safe(key: Secret | KeyFile) -> bool:
    """Whether a passphrase can be read by cryptsetup as one stdin line (no newline, not too long)."""
    if isinstance(key, KeyFile):
        return False
    value = key.reveal()
    return "\n" not in value and "\r" not in value and 0 < len(value) <= MAX_PASSPHRASE


def cryptsetup(
    args: Sequence[str], *, input: Secret | None = None, readonly: bool = False,  # noqa: A002 - mirrors run()
    subject: str = "", ok_codes: Sequence[int] = (0,),
) -> Result:
    """Run ``cryptsetup ARGS`` through the core runner; translate its well-known failures into typed errors."""
    try:
        return run([CRYPTSETUP, *args], input=input, readonly=readonly, ok_codes=ok_codes)
    except CommandError as exc:
        raise translate(exc, subject) from exc


def translate(exc: CommandError, subject: str) -> Exception:
    """Map cryptsetup's messages to errors that say what is wrong and what to try."""
    err = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
    if exc.returncode is None and "not installed" in (exc.reason or ""):
        return ToolUnavailableError(CRYPTSETUP, "not installed (Debian package cryptsetup-bin)")
    if "Cannot initialize device-mapper" in err:
        return ToolUnavailableError(
            "device-mapper", f"cryptsetup cannot use device-mapper for {subject} (are dm_mod and dm_crypt loaded?)"
        )
    if "No key available with this passphrase" in err:
        return PassphraseError(f"{subject}: no key slot accepts the given passphrase or key file")
    if "is not a valid LUKS device" in err:
        return NotLuksError(f"{subject} holds no LUKS header")
    if "doesn't exist or access denied" in err or ("not found" in err.lower() and "Device" in err):
        return NotFoundError(f"{subject}: {err.strip().splitlines()[-1]}")
    return exc
