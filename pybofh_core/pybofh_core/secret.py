"""A wrapper for passphrases and keys that never shows its value in repr, str, logs or the journal."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import REDACTED

MIN_SCRUB_LEN = 4
"""Shorter secrets are redacted where they are passed (stdin, ``secrets=``) but not scrubbed from all text."""

_LIVE: set[str] = set()
"""Values of every Secret made in this process, so log and error text can be scrubbed of them."""


class Secret:
    """A secret string: prints as ``***``; ``reveal()`` gives the value, for stdin or a key file only."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str | bytes | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if isinstance(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        if not isinstance(value, str):
            raise TypeError("Secret takes str or bytes")
        object.__setattr__(self, "_value", value)
        if len(value) >= MIN_SCRUB_LEN:
            _LIVE.add(value)

    def reveal(self) -> str:
        """Return the secret value; call only to feed it to a command's stdin or a key file."""
        return self._value  # type: ignore[no-any-return]

    def encode(self) -> bytes:
        """Return the value as bytes for a command's stdin."""
        return self._value.encode("utf-8", "surrogateescape")  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = lambda self: REDACTED

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def as_secret(value: str | bytes | Secret) -> Secret:
    """Wrap a passphrase given as str/bytes (or pass a Secret through)."""
    return value if isinstance(value, Secret) else Secret(value)


def known_secrets() -> list[str]:
    """Values of all secrets created in this process (for redaction of logs and error text)."""
    return list(_LIVE)


def scrub(text: str) -> str:
    """Remove every known secret value from ``text``."""
    from .errors import redact

    return redact(text, known_secrets()) if _LIVE else text


class SecretFile:
    """A secret handed to one command as a file path (``/dev/fd/N`` of an in-memory file), for tools that read a
    key only from a file: it never exists on any filesystem, so nothing is left behind, even after ``kill -9``.

    Put it in argv where the tool expects the file's path: ``run(["cryptsetup", …, SecretFile(new_key)])``.
    """

    __slots__ = ("secret",)

    def __init__(self, secret: Secret | str | bytes) -> None:
        self.secret = as_secret(secret)

    def __repr__(self) -> str:
        return "SecretFile(***)"


# --- keys given for one run ---------------------------------------------------------------------------------------

_given: contextvars.ContextVar[tuple[Sequence[Secret | Path], ...]] = contextvars.ContextVar(
    "pybofh_given_keys", default=()
)


@contextlib.contextmanager
def given_keys(keys: Sequence[Secret | Path]) -> Iterator[None]:
    """Make ``keys`` (a passphrase, or the path of a key file) the keys the administrator gave for this run, e.g.
    ``bofh journal rollback --key-file``: a plugin that must open something (crypt: a LUKS volume a restart closed)
    tries them after its own providers. Held in memory for the ``with`` block only, never written anywhere.

    A list is held by reference: keys added to it later (a command's ``--key-file``, parsed after the command's
    atomic block began) count too, also for that block's rollback.
    """
    token = _given.set((*_given.get(), keys))
    try:
        yield
    finally:
        _given.reset(token)


def keys_given() -> tuple[Secret | Path, ...]:
    """The keys given for this run (see ``given_keys()``), in the order given."""
    return tuple(key for group in _given.get() for key in group)
