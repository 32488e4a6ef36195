"""What every plugin's parsers share at their boundary (a toolkit for plugin authors).

``public_parsers()`` wraps each public ``parse_*`` function of a parsers module with the two rules common to all
of them: the cyclic garbage collector is paused while a parser builds its result (results hold no reference cycles,
and on a host with 20,000 devices the collector's passes over the growing object graph cost more than the parsing),
and the ``ValueError`` that ``int()`` raises for more than ``sys.get_int_max_str_digits()`` digits becomes the
plugin's ``ParseError`` (no tool prints such a number; the input is searched for one only after a ValueError
escaped, so reading real output costs nothing).

``load_json()`` is the one strict JSON decoder of every plugin: a key repeated in one object is a ``ParseError``
(a plain ``json.loads`` keeps the last value and silently hides the first).
"""

from __future__ import annotations

import functools
import gc
import json
import re
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from .errors import ParseError


def boundary(parse: Callable[..., Any]) -> Callable[..., Any]:
    """``parse`` with the GC paused while it runs and huge numbers refused as ``ParseError``."""

    @functools.wraps(parse)
    def wrapper(data: Any, *args: Any, **kwargs: Any) -> Any:
        collecting = gc.isenabled()
        if collecting:
            gc.disable()
        try:
            return parse(data, *args, **kwargs)
        except ValueError:
            limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
            text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
            huge = re.search(f"[0-9]{{{limit + 1}}}", text) if limit and isinstance(text, str) else None
            if huge is None:
                raise
            raise ParseError(parse.__name__.removeprefix("parse_").replace("_", " "), "a number of thousands of "
                             "digits is not tool output", huge.group(0)[:20], kwargs.get("source")) from None
        finally:
            if collecting:
                gc.enable()

    return wrapper


class _RepeatedKey(Exception):
    def __init__(self, key: str, first: Any, second: Any) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def _strict_pairs(same_value_ok: bool) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """An ``object_pairs_hook``: the dict is built in C, the pairs are compared one by one only when a key repeats."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) == len(pairs):
            return out
        out = {}
        for key, value in pairs:
            if key in out and not (same_value_ok and out[key] == value):
                raise _RepeatedKey(key, out[key], value)
            out[key] = value
        return out

    return hook


_PLAIN = json.JSONDecoder()


def load_json(
    text: str,
    tool: str,
    source: str | None = None,
    *,
    start: int | None = None,
    same_value_ok: bool = False,
    count_pairs: Callable[[Any], tuple[int, Iterable[str]]] | None = None,
) -> tuple[Any, int]:
    """Decode the JSON document that begins at ``text[start]``; return it and the offset where it ends.

    Without ``start`` the whole text is the document: whitespace around it is allowed, anything else after it is a
    ``ParseError``.

    A key repeated in one object raises ``ParseError`` (with ``same_value_ok``, only when the values differ: the
    same value twice hides nothing); so do invalid JSON and nesting deeper than Python's recursion limit.

    ``count_pairs(doc)``, for outputs of tens of thousands of objects, replaces the per-object duplicate check with
    counting colons. It returns how many key/value pairs some of the document's objects hold (``len()`` of dicts
    only) and an iterable of some of its string values (each object's values at most once; read only when the
    text has colons beyond the pairs). Every key of the text is followed by
    a colon of its own; other colons are inside strings, and where the text has no backslash escape a string's
    colons are the ones its value holds. So colons in the text minus those in the values given, equal to the
    pairs counted, prove that no key repeats; any other count (or an error in ``count_pairs``) decodes again with
    the check per object.
    """
    if start is None:
        doc, end = load_json(text, tool, source, start=len(text) - len(text.lstrip()), same_value_ok=same_value_ok,
                             count_pairs=count_pairs)
        if text[end:].strip():
            raise ParseError(tool, "unexpected text after the JSON document", text[end:end + 200], source)
        return doc, end
    if count_pairs is not None:
        try:
            doc, end = _PLAIN.raw_decode(text, start)
            pairs, strings = count_pairs(doc)
            colons = text.count(":", start, end)
            if colons != pairs and text.find("\\", start, end) < 0:
                colons -= "".join(strings).count(":")
        except Exception:  # noqa: BLE001, S110 - the strict decode below reports what is wrong
            pass
        else:
            if colons == pairs:
                return doc, end
    excerpt = text[start:start + 200]
    try:
        return json.JSONDecoder(object_pairs_hook=_strict_pairs(same_value_ok)).raw_decode(text, start)
    except _RepeatedKey as dup:
        values = "" if dup.first == dup.second else f" with different values ({dup.first!r}, {dup.second!r})"
        raise ParseError(tool, f"duplicate JSON key {dup.key!r}: an object has {dup.key!r} twice{values}; a plain JSON "
                         "reader would keep only the last", excerpt, source) from None
    except json.JSONDecodeError as exc:
        raise ParseError(tool, f"invalid JSON: {exc.msg} at line {exc.lineno}", excerpt, source) from None
    except RecursionError:
        raise ParseError(tool, "JSON nested too deeply", excerpt, source) from None


def public_parsers(namespace: MutableMapping[str, Any]) -> None:
    """Wrap every ``parse_*`` function defined in the module whose globals are ``namespace`` with ``boundary()``.

    Call it at the end of a parsers module: ``public_parsers(globals())``.
    """
    module = namespace.get("__name__")
    for name, value in list(namespace.items()):
        if name.startswith("parse_") and callable(value) and getattr(value, "__module__", None) == module:
            namespace[name] = boundary(value)


__all__ = ["boundary", "load_json", "public_parsers"]
