"""pybofh_core.parsing: the one strict JSON decoder of every plugin and its counting fast path; the decode policies,
integers, and a meta-test that plugins decode tool output only through this module.

The fast path may only ever say "no key repeats" when none does: every way a text could hide a repeated key from
the colon count (colons in values, escaped colons, whitespace, keys with colons, nested objects the count skips)
must end in the strict decode, which refuses the repeat.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.errors import ParseError
from pybofh_core.parsing import (
    Repeated,
    RepeatedKeys,
    decode_names,
    decode_text,
    encode_names,
    int_field,
    json_start,
    load_json,
    load_json_output,
    refuse_repeated,
)


def rows_count(doc: Any) -> tuple[int, Any]:
    """A count_pairs for {"rows": [{...}, ...]}: what the LVM parser does for its report sections."""
    rows = doc["rows"]
    assert set(map(type, rows)) == {dict}
    return 1 + sum(map(len, rows)), itertools.chain.from_iterable(map(dict.values, rows))


CLEAN = [
    '{"rows": [{"a":"1", "b":"2"}, {"a":"3", "b":"4"}]}',
    '{"rows": [{"a":"x:y", "b":"::"}, {"a":"3", "b":""}]}',  # colons in values are subtracted
    '{"rows": [{"a":"x\\u003ay", "b":"2"}]}',  # an escaped colon: no subtraction, counts match anyway
    '{"rows": [{"a" : "1", "b":\t"2"}]}',  # whitespace around colons changes nothing
]

REPEATED = [
    '{"rows": [{"a":"1", "a":"2"}]}',
    '{"rows": [{"a":"1", "a":"2", "b":"x:y"}]}',
    '{"rows": [{"a":"1", "a":"2", "b":"x\\u003ay"}]}',  # the value holds a colon the text does not: not subtracted
    '{"rows": [{"a":"1", "a":"2", "b":"\\\\:"}]}',  # a backslash anywhere: value colons are not subtracted
    '{"rows": [{"a":"1", "a":"2", "k:k":"3"}]}',  # a key with a colon: counted too many, strict decode
    '{"rows": [{"a":"1", "n":{"x":"1", "x":"2"}}]}',  # in an object the count does not see
    '{"rows": [{"a":"1"}], "rows": [{"a":"1"}, {"b":"2"}]}',  # at the top level
    '{"rows": [{"a" : "1", "a" : "2"}]}',
]


@pytest.mark.parametrize("text", CLEAN)
@pytest.mark.parametrize("fast", [True, False])
def test_a_document_without_repeated_keys_decodes_alike_both_ways(text: str, fast: bool) -> None:
    import json

    doc, end = load_json(text, "tool", count_pairs=rows_count if fast else None)
    assert doc == json.loads(text) and end == len(text)


@pytest.mark.parametrize("text", REPEATED)
@pytest.mark.parametrize("fast", [True, False])
def test_a_repeated_key_is_refused_whatever_the_text_does_to_the_count(text: str, fast: bool) -> None:
    with pytest.raises(ParseError, match="duplicate JSON key"):
        load_json(text, "tool", count_pairs=rows_count if fast else None)


def test_the_same_value_twice_is_accepted_only_when_asked() -> None:
    text = '{"rows": [{"a":"1", "a":"1"}]}'
    with pytest.raises(ParseError, match="duplicate JSON key 'a': an object has 'a' twice; a plain"):
        load_json(text, "tool")
    assert load_json(text, "tool", same_value_ok=True, count_pairs=rows_count)[0] == {"rows": [{"a": "1"}]}
    with pytest.raises(ParseError, match="twice with different values \\('1', '2'\\)"):
        load_json('{"rows": [{"a":"1", "a":"2"}]}', "tool", same_value_ok=True, count_pairs=rows_count)


def test_a_count_that_fails_falls_back_to_the_strict_decode() -> None:
    def broken(doc: Any) -> tuple[int, Any]:
        raise KeyError("rows")

    assert load_json('{"x":"1"}', "tool", count_pairs=broken)[0] == {"x": "1"}
    with pytest.raises(ParseError, match="duplicate JSON key 'x'"):
        load_json('{"x":"1", "x":"2"}', "tool", count_pairs=broken)


@pytest.mark.parametrize(("text", "message"), [('{"a": ', "invalid JSON"), ("[" * 100_000, "nested too deeply")])
def test_broken_json_is_a_parse_error(text: str, message: str) -> None:
    for count in (None, rows_count):
        with pytest.raises(ParseError, match=message):
            load_json(text, "tool", count_pairs=count)


def test_start_and_end_offsets() -> None:
    text = 'WARNING: x\n{"a":"1"}\ntrailer'
    doc, end = load_json(text, "tool", start=text.index("{"))
    assert doc == {"a": "1"} and text[end:] == "\ntrailer"


def test_without_start_the_whole_text_is_one_document() -> None:
    assert load_json(' \n{"a":"1"}\n ', "tool")[0] == {"a": "1"}
    with pytest.raises(ParseError, match="unexpected text after the JSON document"):
        load_json('{"a":"1"} {"b":"2"}', "tool")


# --- the decode policies, integers, JSON after messages, kept repeated keys ---------------------------------------

NOT_UTF8 = b"/srv/caf\xe9/x"  # a Latin-1 file name


def test_text_policy_replaces_what_is_not_utf8() -> None:
    assert decode_text(NOT_UTF8) == "/srv/caf\ufffd/x"
    assert decode_text("already text") == "already text"
    assert decode_text(b"a\x00b") == "a\x00b" and decode_text(b"a\x00b", drop_nul=True) == "ab"
    assert decode_text("a\x00b", drop_nul=True) == "ab"


def test_names_policy_round_trips_a_name_that_is_not_utf8() -> None:
    name = decode_names(NOT_UTF8)
    assert name != decode_text(NOT_UTF8) and encode_names(name) == NOT_UTF8
    assert decode_names("caf\u00e9".encode()) == "caf\u00e9"
    assert decode_names(b"a\x00b") == "a\x00b" and decode_names(b"a\x00b", drop_nul=True) == "ab"


@pytest.mark.parametrize("decode", [decode_text, decode_names])
def test_decoding_refuses_what_is_not_output(decode: Any) -> None:
    with pytest.raises(TypeError, match="expected str or bytes, got int"):
        decode(5)


@pytest.mark.parametrize(("value", "kwargs", "want"), [
    (7, {}, 7), (-3, {}, -3), (" 42 ", {}, 42), ("-42", {"signed": True}, -42), (4.0, {"integral_float": True}, 4),
])
def test_int_field_reads_numbers_and_digit_strings(value: Any, kwargs: dict[str, Any], want: int) -> None:
    assert int_field(value, "size", "tool", **kwargs) == want


@pytest.mark.parametrize(("value", "kwargs"), [
    (True, {}), (None, {}), ("", {}), ("-42", {}), ("4.5", {}), ("12abc", {}), (4.0, {}),
    (4.5, {"integral_float": True}), ("--1", {"signed": True}), ([1], {}),
])
def test_int_field_refuses_anything_else_naming_the_field(value: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ParseError, match=r"size .* is not an integer") as err:
        int_field(value, "size", "tool", "src", **kwargs)
    assert err.value.source == "src"


def test_json_start_skips_message_lines() -> None:
    text = "  WARNING: one\n\nsecond\n  [1]\n"
    start, messages = json_start(text)  # type: ignore[misc]
    assert text[start:] == "[1]\n" and messages == ["WARNING: one", "second"]
    assert json_start(text, "{") is None and json_start("") is None


def test_load_json_output_returns_the_document_and_the_messages() -> None:
    assert load_json_output(b'WARNING: x\n{"a": 1}\n', "tool") == ({"a": 1}, ["WARNING: x"])
    assert load_json_output(b'{"a": "\x00"}'.replace(b"\x00", b"x\x00"), "tool", drop_nul=True)[0] == {"a": "x"}
    with pytest.raises(ParseError, match="no JSON document"):
        load_json_output("only a message\n", "tool")
    with pytest.raises(ParseError, match="unexpected text after the JSON document"):
        load_json_output('{"a": 1}\ntrailer', "tool")
    with pytest.raises(ParseError, match="duplicate JSON key 'a'"):
        load_json_output('{"a": 1, "a": 2}', "tool")


def test_repeated_keys_can_be_kept_and_refused_where_they_are_not_expected() -> None:
    doc, _ = load_json_output('[{"disk": "/dev/x", "disk": {"o": 1}, "v": 0}, {"v": 1, "v": 1}]', "tool",
                              repeated_keys="keep")
    first, second = doc
    assert type(first) is RepeatedKeys and first["disk"] == Repeated(["/dev/x", {"o": 1}]) and first["v"] == 0
    with pytest.raises(ParseError, match="duplicate key 'disk' in volume"):
        refuse_repeated(first, "tool", "volume")
    with pytest.raises(ParseError, match="duplicate key 'v' in volume"):  # the same value twice is kept too
        refuse_repeated(second, "tool", "volume")
    refuse_repeated({"v": 1}, "tool", "volume")
    with pytest.raises(ParseError, match="is list, not an object"):
        refuse_repeated([1], "tool", "volume")


# --- the meta-test: plugins decode output through pybofh_core.parsing ----------------------------------------------

PLUGIN_MODULES = sorted(Path(__file__).resolve().parents[1].glob("plugins/*/pybofh_*/**/*.py"))

#: (module path under plugins/, enclosing function) -> why it may call .decode( / json.loads itself
DECODE_ALLOWED = {
    ("pybofh-blockdev/pybofh_blockdev/parsers.py", "_printable"): "a strict decode as a test: valid UTF-8 is used "
    "as it is, anything else keeps its exact bytes beside the TEXT policy's printable form",
    ("pybofh-blockdev/pybofh_blockdev/parsers.py", "_blkid_value"): "a strict decode as a test: blkid's M-/^ "
    "notation is taken as bytes only when they are valid UTF-8, else the notation is kept literally",
    ("pybofh-ssh/pybofh_ssh/runner.py", "remote_command"): "MARKER is this module's own constant, not command output",
    ("pybofh-ssh/pybofh_ssh/runner.py", "_execute"): "ssh's own chatter on stderr, for a debug log line; the ssh "
    "transport was not part of this pass",
    ("pybofh-ssh/pybofh_ssh/cli_fanout.py", "_json_value"): "JSON the core renderer just wrote, not tool output",
}


def _direct_decodes(path: Path) -> list[tuple[str, int]]:
    """(enclosing function, line) of each ``x.decode(...)`` and ``json.loads``/``json.load`` call in one module."""
    import ast

    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else func
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                attr, owner = child.func.attr, child.func.value
                if attr == "decode" or (attr in ("loads", "load") and isinstance(owner, ast.Name)
                                        and owner.id == "json"):
                    found.append((name, child.lineno))
            visit(child, name)

    visit(tree, "<module>")
    return found


def test_plugins_decode_output_only_through_pybofh_core_parsing() -> None:
    """No plugin module calls ``.decode(`` or ``json.loads`` itself: tool output goes through one of the named
    policies of ``pybofh_core.parsing`` (``decode_text``, ``decode_names``, ``load_json``...), so a plugin cannot
    quietly grow a policy of its own. An exception is listed in DECODE_ALLOWED with its reason."""
    assert len(PLUGIN_MODULES) > 30
    plugins = Path(__file__).resolve().parents[1] / "plugins"
    seen: set[tuple[str, str]] = set()
    offending = []
    for path in PLUGIN_MODULES:
        rel = path.relative_to(plugins).as_posix()
        for func, line in _direct_decodes(path):
            if (rel, func) in DECODE_ALLOWED:
                seen.add((rel, func))
            else:
                offending.append(f"{rel}:{line} in {func}()")
    assert not offending, "decode tool output with pybofh_core.parsing (decode_text, decode_names, load_json): " + \
        ", ".join(offending)
    assert seen == set(DECODE_ALLOWED), f"stale exceptions: {sorted(set(DECODE_ALLOWED) - seen)}"


def test_the_meta_test_finds_a_direct_decode(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import json\ndef f(res):\n    return json.loads(res.stdout.decode('utf-8'))\n")
    assert _direct_decodes(module) == [("f", 3), ("f", 3)]
