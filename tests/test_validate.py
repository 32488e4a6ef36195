"""Input validation shared by all plugins: sizes, names and paths."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybofh_core.errors import NotFoundError, ValidationError
from pybofh_core.validate import (
    format_size,
    parse_size,
    size_spec,
    validate_device,
    validate_name,
    validate_path,
)

GiB = 1024**3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10G", 10 * GiB),
        ("10GiB", 10 * GiB),
        ("10gb", 10 * GiB),
        ("10Gi", 10 * GiB),
        ("512M", 512 * 1024**2),
        ("1.5T", 1536 * GiB),
        ("4096", 4096),
        ("4096b", 4096),
        (" 1k ", 1024),
        (0, 0),
        (123, 123),
    ],
)
def test_sizes_accepted(text: object, expected: int) -> None:
    """Binary units, any case, with or without i/B; ints are bytes."""
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1G", "cannot read"),
        (-5, "negative"),
        ("10X", "cannot read"),
        ("", "cannot read"),
        ("1.5", "whole number"),
        ("0.3K", "whole number"),
        ("9E", "too large"),
        (2**64, "too large"),
        (True, "not a size"),
        (1.5, "expected bytes"),
        ("1G\n", "control"),
        ("ten", "cannot read"),
        ("1e3", "cannot read"),
    ],
)
def test_bad_sizes_rejected(value: object, message: str) -> None:
    """Negative, junk, fractional bytes, overflow, unknown units and floats are ValidationErrors."""
    with pytest.raises(ValidationError, match=message):
        parse_size(value)


def test_size_minimum_and_multiple() -> None:
    """Callers can demand a minimum and an alignment (e.g. an extent size)."""
    with pytest.raises(ValidationError, match="minimum"):
        parse_size(0, minimum=1)
    with pytest.raises(ValidationError, match="multiple of 4194304"):
        parse_size("5M", multiple_of=4 * 1024**2)
    assert parse_size("8M", multiple_of=4 * 1024**2) == 8 * 1024**2


@given(st.integers(min_value=0, max_value=2**50))
def test_size_roundtrip(n: int) -> None:
    """Any byte count given as an int or as '<n>b' parses to itself."""
    assert parse_size(n) == parse_size(f"{n}b") == n
    assert format_size(n)


@pytest.mark.parametrize(
    "name",
    [
        "-rf",
        "--",
        "a b",
        "a/b",
        "..",
        ".",
        "",
        "x\x00y",
        "tab\t",
        "new\nline",
        "a;b",
        "$(x)",
        "é" * 200,
        "\udcff",
        b"\xff",
    ],
)
def test_bad_names(name: object) -> None:
    """Option-like, path-like, whitespace, control, shell metacharacters, overlong and non-UTF-8 names are refused."""
    with pytest.raises(ValidationError):
        validate_name(name)


def test_good_names() -> None:
    """Ordinary LVM/btrfs style names pass unchanged."""
    for name in ("my_vg", "lv-01", "a.b+c", "@home"[1:]):
        assert validate_name(name) == name


def test_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Paths must be absolute, not option-like, and of the kind asked for."""
    assert validate_path(str(tmp_path), kind="dir") == str(tmp_path)
    with pytest.raises(ValidationError, match="absolute"):
        validate_path("relative/x")
    with pytest.raises(ValidationError, match="option"):
        validate_path("-x")
    with pytest.raises(ValidationError, match=r"'\.\.' component"):
        validate_path("/mnt/../etc")
    with pytest.raises(NotFoundError):
        validate_path("/nonexistent/pybofh", must_exist=True)
    with pytest.raises(ValidationError, match="not a block device"):
        validate_device(str(tmp_path))
    with pytest.raises(ValidationError, match="not a directory"):
        validate_path("/dev/null", kind="dir")


MIB = 1024**2


@pytest.mark.parametrize("text, context, expected", [
    ("+100M", {"current": 1024 * MIB}, 1124 * MIB),
    ("-1G", {"current": 2048 * MIB}, 1024 * MIB),
    ("+1M", {"current": 8 * MIB, "step": 4 * MIB}, 8 * MIB),  # relative sizes round down to the step
    ("50%FREE", {"free": 101 * MIB, "step": 4 * MIB}, 48 * MIB),
    ("+50%FREE", {"current": 8 * MIB, "free": 100 * MIB, "step": 4 * MIB}, 56 * MIB),
    ("100%VG", {"total": 1000 * MIB, "step": 4 * MIB}, 1000 * MIB),
    ("10M", {"step": 4 * MIB, "round": "up"}, 12 * MIB),
    ("10M", {"step": 4 * MIB, "round": "down"}, 8 * MIB),
    (12 * MIB, {"step": 4 * MIB}, 12 * MIB),
])
def test_sizes_the_way_administrators_write_them(text: object, context: dict[str, object], expected: int) -> None:
    """Relative and percentage sizes resolve against the context and round down; absolute ones round only on request."""
    assert size_spec(text, percent=True).resolve(**context) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("text, context, message", [
    ("10M", {"step": 4 * MIB}, "ask for 8388608 bytes (8.0 MiB) or 12582912 bytes (12.0 MiB), or round it"),
    ("+1G", {}, "no current size"),
    ("-3G", {"current": 2048 * MIB}, "below the minimum"),
    ("50%FREE", {}, "not supported here"),
    ("10M", {"step": 4 * MIB, "round": "sideways"}, "not 'up' or 'down'"),
])
def test_sizes_that_cannot_be_resolved_are_refused(text: str, context: dict[str, object], message: str) -> None:
    """Off the step without round=, relative without a current size, below zero, a share of nothing: refused."""
    with pytest.raises(ValidationError, match=re.escape(message)):
        size_spec(text, percent=True).resolve(**context)  # type: ignore[arg-type]


@pytest.mark.parametrize("text, kwargs, message", [
    ("+1G", {"relative": False}, "relative size is not accepted"),
    ("50%FREE", {}, "percentages"),
    ("0%FREE", {"percent": True}, "above 0"),
    ("-50%FREE", {"percent": True}, "only \\+N%FREE"),
    ("+", {}, "cannot read"),
    ("++1G", {}, "cannot read"),
])
def test_size_syntax_is_checked_before_anything_is_probed(text: str, kwargs: dict[str, bool], message: str) -> None:
    """Where relative sizes or percentages are not accepted, and for malformed ones, the syntax check refuses."""
    with pytest.raises(ValidationError, match=message):
        size_spec(text, **kwargs)


def test_sizes_in_messages_are_exact_and_readable() -> None:
    """Messages give the byte count (what the tools take) and, past 1 KiB, the size an administrator reads."""
    from pybofh_core.validate import size_text

    assert size_text(512) == "512 bytes"
    assert size_text(14022656) == "14022656 bytes (13.4 MiB)"
    assert size_text(10 * 1024**3) == "10737418240 bytes (10.0 GiB)"
    with pytest.raises(ValidationError, match=re.escape("not a multiple of 4194304 bytes (4.0 MiB)")):
        size_spec("10M").resolve(step=4 * MIB)
