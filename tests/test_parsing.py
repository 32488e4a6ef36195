"""pybofh_core.parsing.load_json: the one strict JSON decoder of every plugin, and its counting fast path.

The fast path may only ever say "no key repeats" when none does: every way a text could hide a repeated key from
the colon count (colons in values, escaped colons, whitespace, keys with colons, nested objects the count skips)
must end in the strict decode, which refuses the repeat.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pybofh_core.errors import ParseError
from pybofh_core.parsing import load_json


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
