"""Turning pybofh values into JSON-ready ones: one walker, two policies (the journal's and the CLI output's).

The **journal** form (``to_jsonable``) must be replayable by another process and must never hold a secret: text
is scrubbed of known secrets, a ``Secret`` is written as ``{"__secret__": true}``, a result passed on is written as
the path it names, and a flag says whether the value round-trips (an enum, a dataclass, an object do not). The
**output** form (``to_plain``) is for people and scripts: a result's ``to_json()`` or its public fields, enums by
value, bytes as text. A leaf module: it imports only the errors and secrets below it.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from .secret import Secret, scrub


def _walk(value: Any, journal: bool) -> tuple[Any, bool]:
    """``value`` converted under one policy, and whether it round-trips (only meaningful for the journal)."""
    if not journal and isinstance(value, enum.Enum):  # before str: a str-valued enum is shown by its value
        return _walk(value.value, False)[0], False
    if value is None or isinstance(value, (bool, int, float)):
        return value, True
    if isinstance(value, str):
        return (scrub(value) if journal else value), True
    if isinstance(value, PurePath):
        return str(value), True
    if isinstance(value, Secret):
        return ({"__secret__": True} if journal else str(value)), False
    if isinstance(value, enum.Enum):
        return _walk(value.value, journal)[0], False
    if journal and isinstance(value, os.PathLike):  # a result passed on (a LoopDevice, an LV, a Mount): its path
        return scrub(os.fspath(value)), True
    if not journal:
        if dataclasses.is_dataclass(value) and not isinstance(value, type) and not hasattr(value, "to_json"):
            return {f.name: _walk(getattr(value, f.name), False)[0] for f in dataclasses.fields(value)
                    if not f.name.startswith("_")}, False
        if callable(getattr(value, "to_json", None)):
            return _walk(value.to_json(), False)[0], False
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace"), False
    if isinstance(value, (list, tuple)) or (not journal and isinstance(value, (set, frozenset))):
        items = [_walk(v, journal) for v in value]
        return [v for v, _ in items], all(ok for _, ok in items)
    if isinstance(value, dict) or (not journal and isinstance(value, Mapping)):
        out: dict[str, Any] = {}
        ok = True
        for k, v in value.items():
            jv, jok = _walk(v, journal)
            out[str(k)] = jv
            ok = ok and jok and isinstance(k, str)
        return out, ok
    if journal:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return _walk({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, True)[0], False
        return scrub(repr(value)), False
    return value, False


def to_jsonable(value: Any) -> tuple[Any, bool]:
    """``value`` in the journal's form; the flag says whether it round-trips (False for secrets, objects…)."""
    return _walk(value, True)


def to_plain(value: Any) -> Any:
    """``value`` in the output's form: dataclasses, enums, paths and containers as JSON-ready values."""
    return _walk(value, False)[0]


__all__ = ["to_jsonable", "to_plain"]
