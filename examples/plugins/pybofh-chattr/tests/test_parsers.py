"""parse_lsattr on outputs recorded from e2fsprogs 1.47.0 on a loop-mounted ext4 (recordings/record.sh), and on
what it refuses."""

from __future__ import annotations

import pytest
from chattr_fakes import RECORDINGS, recording
from pybofh_chattr.parsers import parse_lsattr

from pybofh_core.errors import ParseError


def one(name: str):
    found = parse_lsattr(recording(name), source=name)
    assert len(found) == 1
    return found[0]


def test_plain_file_has_only_extents() -> None:
    attrs = one("lsattr-d_plain.txt")
    assert attrs.path.endswith("/plain")
    assert attrs.attributes == ("extents",)
    assert not attrs.immutable and not attrs.append_only
    assert attrs.generation is None  # without -v, lsattr prints none


def test_immutable() -> None:
    attrs = one("lsattr-d_immutable.txt")
    assert attrs.immutable and not attrs.append_only
    assert attrs.attributes == ("immutable", "extents")
    assert attrs.flags == "----i---------e-------"


def test_append_only() -> None:
    attrs = one("lsattr-d_append-only.txt")
    assert attrs.append_only and not attrs.immutable
    assert attrs.attributes == ("append_only", "extents")


def test_a_path_with_spaces_is_kept_whole() -> None:
    assert one("lsattr-d_spaces.txt").path.endswith("/name with spaces")


def test_directory() -> None:
    attrs = one("lsattr-d_dir.txt")
    assert attrs.path.endswith("/dir")
    assert "extents" in attrs.attributes


def test_many_flags_in_their_positions() -> None:
    attrs = one("lsattr-d_many.txt")  # chattr +SdAia: S, d, A, i and a in lsattr's own order
    assert attrs.flags == "--S-iadA------e-------"
    assert attrs.attributes == ("synchronous_updates", "immutable", "append_only", "no_dump", "no_atime", "extents")


def test_tmpfs_has_attributes_but_no_extents() -> None:
    attrs = one("lsattr-d_tmpfs.txt")
    assert attrs.attributes == () and not attrs.immutable


def test_a_directory_listing_gives_one_result_per_file() -> None:
    found = parse_lsattr(recording("lsattr_dir-contents.txt"))
    assert sorted(a.path.rsplit("/", 1)[1] for a in found) == ["a", "b"]
    assert [a.immutable for a in sorted(found, key=lambda a: a.path)] == [False, True]


@pytest.mark.parametrize("name", ["lsattr-d-v_plain.txt", "lsattr-d-v_immutable.txt"])
def test_generation_column(name: str) -> None:
    attrs = one(name)
    assert isinstance(attrs.generation, int)
    assert attrs.immutable == ("immutable" in name)
    assert attrs.path.endswith("/plain" if "plain" in name else "/immutable")


def test_bytes_are_read_like_text() -> None:
    raw = (RECORDINGS / "lsattr-d_immutable.txt").read_bytes()
    assert parse_lsattr(raw) == parse_lsattr(raw.decode())


def test_empty_output_lists_nothing() -> None:
    assert parse_lsattr("") == []


@pytest.mark.parametrize("name", ["lsattr-d-l_immutable.txt", "lsattr-d-p_immutable.txt"])
def test_formats_not_claimed_are_refused(name: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_lsattr(recording(name), source=name)
    assert err.value.tool == "lsattr" and err.value.source == name


@pytest.mark.parametrize(
    "text",
    [
        "----i---------e-------\n",  # no path
        "----i---------e------ /x\n",  # 21 positions
        "----i---------e--------- /x\n",  # 24 positions
        "----x---------e------- /x\n",  # a letter out of its place
        "----I---------e------- /x\n",  # case matters: I is indexed_directory, in position 12
        "12 34 ----i---------e------- /x\n",
        "lsattr: Operation not supported While reading flags on /x\n",
        b"\xff\xfe----i---------e------- /x\n",
    ],
)
def test_damaged_lines_are_a_parse_error(text: str | bytes) -> None:
    with pytest.raises(ParseError):
        parse_lsattr(text)
