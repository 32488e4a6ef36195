"""Parser edge cases, each built by changing one thing in a real recording (the change is named in the test):
duplicate JSON keys, missing requested columns, warnings around the JSON, bytes input, conflicting rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pybofh_core.errors import ParseError
from pybofh_lvm.facts import LV_FIELDS, PV_FIELDS
from pybofh_lvm.parsers import parse_fullreport, parse_lvs, parse_pvs, parse_vgs

VG = "pybofhrec"


@pytest.fixture
def lvs_text(rec: Callable[..., Any]) -> str:
    return rec("lvs", "two-lvs-unknown").stdout.decode()


def test_duplicate_key_with_another_value_is_refused(lvs_text: str) -> None:
    changed = lvs_text.replace('"lv_size":"67108864",', '"lv_size":"67108864", "lv_size":"1",', 1)
    with pytest.raises(ParseError, match="'lv_size' twice"):
        parse_lvs(changed, source="dup")


def test_duplicate_key_with_the_same_value_hides_nothing(lvs_text: str) -> None:
    changed = lvs_text.replace('"lv_size":"67108864",', '"lv_size":"67108864", "lv_size":"67108864",', 1)
    assert parse_lvs(changed) == parse_lvs(lvs_text)


def test_a_row_without_a_requested_column_is_refused_by_readers(lvs_text: str) -> None:
    changed = lvs_text.replace('"lv_size":"8388608", ', "", 1)
    assert parse_lvs(changed)[1].size_bytes is None  # lenient: the field is explicitly unknown
    with pytest.raises(ParseError, match="lacks requested columns"):
        parse_lvs(changed, require=LV_FIELDS)


def test_warning_lines_before_and_after_the_json_are_skipped(lvs_text: str) -> None:
    noisy = "  WARNING: Failed to connect to lvmetad. Falling back to device scanning.\n" + lvs_text + "  Reloading\n"
    assert parse_lvs(noisy.encode()) == parse_lvs(lvs_text)


def test_two_json_documents_are_refused(lvs_text: str) -> None:
    with pytest.raises(ParseError, match="more than one JSON document"):
        parse_lvs(lvs_text + lvs_text)


def test_conflicting_rows_for_one_lv_are_refused(lvs_text: str) -> None:
    start = lvs_text.index("{\"lv_uuid\"")
    row = lvs_text[start:lvs_text.index("}", start) + 1]
    twin = row.replace('"lv_size":"67108864"', '"lv_size":"4194304"')
    with pytest.raises(ParseError, match="two different rows"):
        parse_lvs(lvs_text.replace(row, f"{row},\n{twin}", 1))
    assert len(parse_lvs(lvs_text.replace(row, f"{row},\n{row}", 1))) == 2  # an exact repeat is collapsed


def test_truncated_json_is_a_parse_error(lvs_text: str) -> None:
    with pytest.raises(ParseError, match="invalid JSON"):
        parse_lvs(lvs_text[: len(lvs_text) // 2])


def test_wrong_report_kind_and_empty_output(rec: Callable[..., Any], lvs_text: str) -> None:
    with pytest.raises(ParseError, match="no 'pv' section"):
        parse_pvs(lvs_text)
    with pytest.raises(ParseError, match="empty output"):
        parse_vgs(b"")
    pvs = rec("pvs", "vg-and-orphan").stdout
    assert len(parse_pvs(pvs, require=PV_FIELDS)) >= 2


def test_display_units_are_not_bytes(rec: Callable[..., Any]) -> None:
    text = rec("vgs", "one-vg-empty").stdout.decode().replace('"vg_size":"310378496"', '"vg_size":"<296.00m"')
    with pytest.raises(ParseError, match=r"vg_size '<296\.00m'"):
        parse_vgs(text, source="units")


def test_non_utf8_bytes_do_not_crash(lvs_text: str) -> None:
    data = lvs_text.encode().replace(b'"lv_role":"public"', b'"lv_role":"pub\xfflic"', 1)
    lvs = parse_lvs(data)
    assert lvs[0].roles == ("pub\ufffdlic",)


def test_fullreport_orphan_pv_and_vg_of_each_pv(rec: Callable[..., Any]) -> None:
    r = rec("lvm", "fullreport-two-pvs-two-lvs")
    report = parse_fullreport(r.stdout)
    assert {p.vg for p in report.pvs if p.name in r.expected["pvs"]} == {VG}
    assert all(lv.vg == VG for lv in report.lvs)


def test_rows_pass_the_result_types_their_fields_in_order() -> None:
    """_lv(), _vg() and _pv() build their results positionally (thousands of rows): their field lists must follow
    the dataclasses."""
    import dataclasses

    from pybofh_lvm import parsers as parse
    from pybofh_lvm.types import LogicalVolume, PhysicalVolume, VolumeGroup

    assert parse._LV_FIELDS == tuple(f.name for f in dataclasses.fields(LogicalVolume))
    assert parse._VG_FIELDS == tuple(f.name for f in dataclasses.fields(VolumeGroup))
    assert parse._PV_FIELDS == tuple(f.name for f in dataclasses.fields(PhysicalVolume))


def test_a_repeated_key_behind_a_colon_in_a_value_is_still_refused(lvs_text: str) -> None:
    """The colon count of the fast path cannot be fooled by values holding colons or escapes."""
    for extra in ('"lv_tags":"a:b", ', '"lv_tags":"a\\u003ab", ', '"lv_tags":"\\\\", '):
        changed = lvs_text.replace('"lv_size":"67108864",', f'{extra}"lv_size":"67108864", "lv_size":"1",', 1)
        with pytest.raises(ParseError, match="'lv_size' twice"):
            parse_lvs(changed, source="dup")
