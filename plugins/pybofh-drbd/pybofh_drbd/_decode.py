"""Decoding helpers shared by the DRBD parsers (``parsers`` and the config-language parser ``drbdconf``): pure."""

from __future__ import annotations

from typing import Any

from pybofh_core.errors import ParseError


def _text(data: str | bytes) -> str:
    """Decode tool output: bytes as UTF-8 with replacement; NUL bytes (DRBD 8.3 /proc/drbd) dropped."""
    if isinstance(data, bytes):
        data = data.replace(b"\x00", b"").decode("utf-8", "replace")
    return data.replace("\x00", "")


def _int(value: Any, tool: str, what: str, source: str | None) -> int:
    """An integer from JSON/text, refusing bools and junk with a ParseError."""
    if isinstance(value, bool):
        raise ParseError(tool, f"{what} is a boolean, expected a number", str(value), source)
    if isinstance(value, float) and not value.is_integer():
        raise ParseError(tool, f"{what} {value!r} is not an integer", str(value), source)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ParseError(tool, f"{what} {value!r} is not an integer", str(value), source) from None
