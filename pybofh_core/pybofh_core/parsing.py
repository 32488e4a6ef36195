"""What every plugin's parsers share at their boundary (a toolkit for plugin authors): the one policy for turning
tool output into text, JSON and integers.

``public_parsers()`` wraps each public ``parse_*`` function of a parsers module with the two rules common to all
of them: the cyclic garbage collector is paused while a parser builds its result (results hold no reference cycles,
and on a host with 20,000 devices the collector's passes over the growing object graph cost more than the parsing),
and the ``ValueError`` that ``int()`` raises for more than ``sys.get_int_max_str_digits()`` digits becomes the
plugin's ``ParseError`` (no tool prints such a number; the input is searched for one only after a ValueError
escaped, so reading real output costs nothing).

Decoding tool output (bytes -> text). Every plugin decodes through one of two named policies; no plugin module calls
``bytes.decode`` on output itself (``tests/test_parsing.py`` checks it):

* ``decode_text()`` -- the TEXT policy, for output read as words, numbers and states (reports, status lines, JSON,
  error messages on stderr): UTF-8, and a byte that is not UTF-8 becomes U+FFFD. The result is always printable
  and valid UTF-8 again; a stray bad byte in a label cannot break the parse of the rest.
* ``decode_names()`` -- the NAMES policy, for output that holds names the system gave and that must be used again
  as they are (file and subvolume paths from ``find``/``btrfs``, xl.cfg files, values whose exact bytes a parser
  keeps beside a printable form): UTF-8 with ``surrogateescape``, so a path with invalid UTF-8 round-trips
  (``encode_names()`` gives its bytes back) instead of naming another file.

Both accept ``str`` (returned unchanged) or ``bytes`` and refuse anything else with ``TypeError``. With
``drop_nul=True`` NUL characters are removed (DRBD 8.3 ``/proc/drbd`` writes one after its flags; util-linux tools
never mean data by one); the default keeps them (``find -print0`` separates names with them).

JSON. ``load_json()`` is the one strict JSON decoder of every plugin: a key repeated in one object is a ``ParseError``
(a plain ``json.loads`` keeps the last value and silently hides the first); ``repeated_keys="keep"`` keeps every
value instead (`Repeated`), for a parser that knows a tool's documented repeat (drbd-utils' second ``"disk"``)
and refuses the rest with ``refuse_repeated()``. ``json_start()`` finds a document that message lines
(``WARNING: ...``) precede on stdout, and ``load_json_output()`` is the two together for the usual case.

Integers. ``int_field()`` reads one integer field of parsed output (a JSON number, or a string of digits that many
tools print instead): booleans and anything else are a ``ParseError`` naming the field.
"""

from __future__ import annotations

import functools
import gc
import json
import re
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, Literal

from .errors import ParseError

# -------------------------------------------------------------------------------------------------------------------
# Decoding: bytes -> text
# -------------------------------------------------------------------------------------------------------------------


def _decoded(data: str | bytes, errors: str, drop_nul: bool) -> str:
    if isinstance(data, bytes):
        text = data.decode("utf-8", errors)
    elif isinstance(data, str):
        text = data
    else:
        raise TypeError(f"expected str or bytes, got {type(data).__name__}")
    return text.replace("\x00", "") if drop_nul else text


def decode_text(data: str | bytes, *, drop_nul: bool = False) -> str:
    """TEXT policy: tool output as UTF-8 text, a byte that is not UTF-8 replaced by U+FFFD (see the module doc)."""
    return _decoded(data, "replace", drop_nul)


def decode_names(data: str | bytes, *, drop_nul: bool = False) -> str:
    """NAMES policy: tool output as UTF-8 text whose bytes that are not UTF-8 are kept as surrogate escapes, so a
    name read from it round-trips through ``encode_names()`` (see the module doc)."""
    return _decoded(data, "surrogateescape", drop_nul)


def encode_names(text: str) -> bytes:
    """The exact bytes of text decoded by ``decode_names()`` (surrogate escapes back to the bytes they stand for)."""
    return text.encode("utf-8", "surrogateescape")


# -------------------------------------------------------------------------------------------------------------------
# Integers
# -------------------------------------------------------------------------------------------------------------------


def int_field(value: Any, what: str, tool: str, source: str | None = None, *, signed: bool = False,
              integral_float: bool = False, excerpt: str | None = None) -> int:
    """One integer field of parsed output: a JSON integer, or a string of decimal digits (blanks around it allowed;
    a leading ``-`` when ``signed``), or with ``integral_float`` a float without a fraction (``4.0``).

    A boolean (``true`` is an ``int`` in Python), ``None`` and anything else raise ``ParseError`` naming ``what``;
    ``excerpt`` (default: the value) is the text the error shows.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if signed and text.startswith("-") else text
        if digits.isdecimal():
            return int(text)
    elif integral_float and isinstance(value, float) and value.is_integer():
        return int(value)
    raise ParseError(tool, f"{what} {value!r} is not an integer", str(value) if excerpt is None else excerpt, source)


# -------------------------------------------------------------------------------------------------------------------
# JSON
# -------------------------------------------------------------------------------------------------------------------


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


class Repeated:
    """The values, in order, of a key one JSON object holds more than once (``load_json(repeated_keys="keep")``)."""

    __slots__ = ("values",)

    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def __repr__(self) -> str:
        return f"Repeated({self.values!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Repeated) and other.values == self.values

    __hash__ = None  # type: ignore[assignment]


class RepeatedKeys(dict):  # type: ignore[type-arg]
    """A JSON object in which some key occurred more than once: those keys' values are `Repeated`."""


def _keeping_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An ``object_pairs_hook`` that keeps every value of a repeated key; built in C unless a key repeats."""
    fast = dict(pairs)
    if len(fast) == len(pairs):
        return fast
    out: dict[str, Any] = RepeatedKeys()
    for key, value in pairs:
        if key in out:
            prev = out[key]
            out[key] = Repeated([*prev.values, value]) if isinstance(prev, Repeated) else Repeated([prev, value])
        else:
            out[key] = value
    return out


def refuse_repeated(obj: Any, tool: str, where: str, source: str | None = None) -> None:
    """Refuse ``obj`` unless it is a JSON object in which no key repeats (of a ``repeated_keys="keep"`` document)."""
    if not isinstance(obj, dict):
        raise ParseError(tool, f"an entry of {where} is {type(obj).__name__}, not an object", str(obj)[:120], source)
    if type(obj) is not RepeatedKeys:
        return
    for key, value in obj.items():
        if isinstance(value, Repeated):
            raise ParseError(tool, f"duplicate key {key!r} in {where}", json.dumps(key), source)


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
    repeated_keys: Literal["refuse", "keep"] = "refuse",
) -> tuple[Any, int]:
    """Decode the JSON document that begins at ``text[start]``; return it and the offset where it ends.

    Without ``start`` the whole text is the document: whitespace around it is allowed, anything else after it is a
    ``ParseError``.

    A key repeated in one object raises ``ParseError`` (with ``same_value_ok``, only when the values differ: the
    same value twice hides nothing); so do invalid JSON and nesting deeper than Python's recursion limit. With
    ``repeated_keys="keep"`` a repeated key is no error: its values are kept as `Repeated` in a
    `RepeatedKeys` object, for the caller to accept where the tool documents it and ``refuse_repeated()``
    elsewhere (``same_value_ok`` and ``count_pairs`` do not apply then).

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
                             count_pairs=count_pairs, repeated_keys=repeated_keys)
        if text[end:].strip():
            raise ParseError(tool, "unexpected text after the JSON document", text[end:end + 200], source)
        return doc, end
    if count_pairs is not None and repeated_keys == "refuse":
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
    hook = _keeping_pairs if repeated_keys == "keep" else _strict_pairs(same_value_ok)
    try:
        return json.JSONDecoder(object_pairs_hook=hook).raw_decode(text, start)
    except _RepeatedKey as dup:
        values = "" if dup.first == dup.second else f" with different values ({dup.first!r}, {dup.second!r})"
        raise ParseError(tool, f"duplicate JSON key {dup.key!r}: an object has {dup.key!r} twice{values}; a plain JSON "
                         "reader would keep only the last", excerpt, source) from None
    except json.JSONDecodeError as exc:
        raise ParseError(tool, f"invalid JSON: {exc.msg} at line {exc.lineno}", excerpt, source) from None
    except RecursionError:
        raise ParseError(tool, "JSON nested too deeply", excerpt, source) from None


def json_start(text: str, opens: str = "{[") -> tuple[int, list[str]] | None:
    """Where the JSON document of a tool's stdout begins when message lines (``WARNING: ...``) may come first.

    Returns the offset of the first non-blank character of the first line that opens with one of ``opens`` and
    the non-blank lines before it (stripped: the messages), or None when no line opens one. The text is not split
    into lines: a large output is searched in place.
    """
    messages: list[str] = []
    prefixes = tuple(opens)
    offset = 0
    while offset < len(text):
        end = text.find("\n", offset)
        line = text[offset:] if end < 0 else text[offset:end + 1]
        body = line.lstrip()
        if body.startswith(prefixes):
            return offset + len(line) - len(body), messages
        if body.strip():
            messages.append(body.strip())
        offset += len(line)
    return None


def load_json_output(
    data: str | bytes,
    tool: str,
    source: str | None = None,
    *,
    opens: str = "{[",
    drop_nul: bool = False,
    repeated_keys: Literal["refuse", "keep"] = "refuse",
) -> tuple[Any, list[str]]:
    """The JSON document of a tool's stdout (TEXT policy), after any message lines; return it and those messages.

    No line that opens a document, or anything but whitespace after it, is a ``ParseError``; keys as in
    ``load_json()``.
    """
    text = decode_text(data, drop_nul=drop_nul)
    found = json_start(text, opens)
    if found is None:
        raise ParseError(tool, "no JSON document in the output", text[:200], source)
    start, messages = found
    doc, end = load_json(text, tool, source, start=start, repeated_keys=repeated_keys)
    if text[end:].strip():
        raise ParseError(tool, "unexpected text after the JSON document", text[end:end + 200], source)
    return doc, messages


def public_parsers(namespace: MutableMapping[str, Any]) -> None:
    """Wrap every ``parse_*`` function defined in the module whose globals are ``namespace`` with ``boundary()``.

    Call it at the end of a parsers module: ``public_parsers(globals())``.
    """
    module = namespace.get("__name__")
    for name, value in list(namespace.items()):
        if name.startswith("parse_") and callable(value) and getattr(value, "__module__", None) == module:
            namespace[name] = boundary(value)


__all__ = [
    "Repeated",
    "RepeatedKeys",
    "boundary",
    "decode_names",
    "decode_text",
    "encode_names",
    "int_field",
    "json_start",
    "load_json",
    "load_json_output",
    "public_parsers",
    "refuse_repeated",
]
