"""Turn API results into tables for people and JSON for scripts (the CLI's only output path)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .serialize import to_plain


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain aligned text table (no colour, safe to grep) of ``rows`` with ``columns`` (default: all keys)."""
    if not rows:
        return "(none)"
    cols = list(columns or dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell(row.get(c)) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def render(value: Any, *, as_json: bool = False, columns: Sequence[str] | None = None) -> str:
    """Render a result: JSON when ``as_json``, else a table for lists of records and ``key: value`` for one record
    (a result with its own ``render_text()``, such as the status report, renders itself)."""
    if not as_json and callable(getattr(value, "render_text", None)):
        return str(value.render_text())
    plain = to_plain(value)
    if as_json:
        return json.dumps(plain, indent=2, sort_keys=False, ensure_ascii=False)
    if plain is None:
        return ""
    if isinstance(plain, list):
        if all(isinstance(r, dict) for r in plain):
            return table(plain, columns)
        return "\n".join(_cell(v) for v in plain)
    if isinstance(plain, dict):
        width = max((len(k) for k in plain), default=0)
        return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in plain.items())
    return str(plain)
