"""Every stdout recorded from the real cryptsetup parses to the values its side-car expects (hand-written)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pybofh_core.errors import ParseError
from pybofh_core.testing import Recording, Recordings
from pybofh_crypt.parsers import parse_crypt_status, parse_luks2_json, parse_luks_dump

RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")
STDOUTS = [r for r in RECORDINGS.all("cryptsetup") if r.stdout_path.is_file()]  # those that printed on stdout


def _out(case: str) -> bytes:
    """The recorded stdout of cryptsetup 2.6.1 case ``case``."""
    return RECORDINGS.get("cryptsetup", case, "2.6.1").stdout


PARSERS = {"luksDump": parse_luks_dump, "luksDump-json": parse_luks2_json, "status": parse_crypt_status}


def test_recordings_exist() -> None:
    """The recordings directory is not empty (a glob that finds nothing would make the test below vacuous)."""
    assert len(STDOUTS) >= 6


@pytest.mark.parametrize("rec", STDOUTS, ids=lambda r: r.stdout_path.name)
def test_recording_parses_as_expected(rec: Recording, luks_check) -> None:
    """The recording's parser gives the hand-checked key fields."""
    expect = rec.expected
    assert isinstance(expect, dict), f"add the expected values of {rec.name} to its side-car's 'expected'"
    result = PARSERS[expect["parser"]](rec.stdout, source=rec.stdout_path.name)
    luks_check(result, expect)


def test_text_and_json_dumps_of_one_header_agree() -> None:
    """The text and JSON dumps recorded from one LUKS2 header give the same key slots and segments."""
    case = "luks2-label-argon2id-two-keyslots"
    text = parse_luks_dump(_out(f"luksDump-{case}"))
    meta = parse_luks2_json(_out(f"luksDump-json-{case}"))
    assert text.keyslots == meta.keyslots
    assert text.segments == meta.segments
    assert (text.data_offset, text.sector_size, text.key_bits, text.cipher) == (
        meta.data_offset, meta.sector_size, meta.key_bits, meta.cipher)
    assert text.metadata_size == meta.metadata_size and text.keyslots_size == meta.keyslots_size


@pytest.mark.parametrize("parser", list(PARSERS.values()), ids=list(PARSERS))
@pytest.mark.parametrize("data", [b"", b"\n\n", b"Device /dev/loop8 is not a valid LUKS device.\n", b"\x00\xff junk"])
def test_parsers_reject_what_they_do_not_claim(parser, data: bytes) -> None:
    """Empty output, an error message or binary junk is a ParseError naming the source."""
    with pytest.raises(ParseError, match="in src"):
        parser(data, source="src")


def _luks2_text() -> str:
    return _out("luksDump-luks2").decode()


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.replace("Version:       \t2", "Version:       \t3"), "version '3'"),
    (lambda t: t.replace("UUID:", "UUUD:"), "lacks 'UUID:'"),
    (lambda t: t.replace("\toffset: 16777216 [bytes]\n", ""), "lacks 'offset:'"),
    (lambda t: t.replace("\toffset: 16777216 [bytes]", "\toffset: lots"), "expected a number"),
    (lambda t: t.replace("  0: luks2\n\tKey:        512 bits\n", "  0: luks2\n"), "lacks 'Key:'"),
    (lambda t: t.replace("Keyslots:\n", "Keyslots:\n  0: luks2\n\tKey:        512 bits\n"), "listed twice"),
])
def test_luks2_text_damage_is_a_parse_error(mutate, message: str) -> None:
    """A real dump with one thing broken is refused with a message saying what, never half parsed."""
    with pytest.raises(ParseError, match=message):
        parse_luks_dump(mutate(_luks2_text()))


def test_luks1_missing_slot_is_a_parse_error() -> None:
    """A LUKS1 dump must list all eight key slots."""
    text = _out("luksDump-luks1").decode().replace("Key Slot 7: DISABLED\n", "")
    with pytest.raises(ParseError, match="expected 0 to 7"):
        parse_luks_dump(text)


def test_json_duplicate_key_is_detected() -> None:
    """A duplicated JSON key would hide data: it is a ParseError, not a silent overwrite."""
    text = _out("luksDump-json-luks2").decode().replace(
        '"sector_size":512', '"sector_size":512,\n      "sector_size":4096')
    with pytest.raises(ParseError, match="duplicate JSON key 'sector_size'"):
        parse_luks2_json(text)


@pytest.mark.parametrize("old, new, message", [
    ('"offset":"16777216"', '"offset":"16M"', "segment offset"),
    ('"keyslots":{', '"keyslotz":{', "missing key 'keyslots'"),
    ('"key_size":64,\n      "af"', '"key_size":true,\n      "af"', "key_size"),
])
def test_json_damage_is_a_parse_error(old: str, new: str, message: str) -> None:
    """Wrong types or missing sections in real JSON metadata are refused."""
    text = _out("luksDump-json-luks2").decode()
    assert old in text
    with pytest.raises(ParseError, match=message):
        parse_luks2_json(text.replace(old, new, 1))


def test_bytes_and_text_give_the_same_result() -> None:
    """Parsers take stdout as bytes or str alike."""
    data = _out("luksDump-luks2")
    assert parse_luks_dump(data) == parse_luks_dump(data.decode())


def test_results_are_frozen() -> None:
    """Parsed state is immutable."""
    header = parse_luks_dump(_out("luksDump-luks2"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        header.uuid = "x"  # type: ignore[misc]


@pytest.mark.parametrize("path", sorted(RECORDINGS.directory.glob("cryptsetup/*-verbose-*.txt")),
                         ids=lambda p: p.name)
def test_verbose_recordings_end_in_the_trailer(path: Path) -> None:
    """``cryptsetup -v`` recordings really end in ``Command successful.``/``Command failed …`` (so the expectation
    test above proves the trailer is skipped), and the same line anywhere else is still refused."""
    data = path.read_bytes()
    last = data.rstrip().rsplit(b"\n", 1)[-1]
    assert last.endswith(b"Command successful.") or last.startswith(b"Command failed with code -4 ")
    parser = PARSERS["status" if path.name.startswith("status") else
                     "luksDump-json" if path.name.startswith("luksDump-json") else "luksDump"]
    lines = data.splitlines(keepends=True)
    moved = b"".join([lines[0], b"Command successful.\n", *lines[1:]])
    with pytest.raises(ParseError):
        parser(moved, source=path.name)
