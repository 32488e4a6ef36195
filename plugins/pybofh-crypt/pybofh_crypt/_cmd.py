"""How the crypt plugin calls cryptsetup: key arguments, and cryptsetup's errors made typed.

The input checks are in ``checks``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybofh_core.errors import CommandError, NotFoundError, ToolUnavailableError
from pybofh_core.parsing import decode_text
from pybofh_core.runner import Result, run
from pybofh_core.secret import Secret

from .errors import NotLuksError, PassphraseError
from .types import KeyFile

CRYPTSETUP = "cryptsetup"


def key_args(key: Secret | KeyFile) -> tuple[list[str], Secret | None]:
    """Argv options and stdin for an existing key: ``--key-file=-`` with the secret on stdin, or the file's path."""
    if isinstance(key, KeyFile):
        return ["--key-file", key.path], None
    return ["--key-file=-"], key


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
    err = decode_text(exc.stderr)
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
