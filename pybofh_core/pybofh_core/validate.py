"""Input checks shared by all plugins, run before any command or journal write.

Sizes accept ``10G``, ``10GiB``, ``10gb``, ``512M``, ``1.5T`` or an int of bytes; every unit is binary (1024-based,
as LVM and cryptsetup read them). Names and paths are refused when they could be read as options, escape a
directory, or carry whitespace, control characters or non-UTF-8 bytes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeAlias

from .errors import NotFoundError, ValidationError

#: what an operation takes where it names a path or a device: the text, or a result that names one by ``__fspath__``
#: (a ``LoopDevice``, ``LogicalVolume``, ``Mapping``, ``Mount``, ``pathlib.Path``…); the core turns it into the text
PathArg: TypeAlias = "str | os.PathLike[str]"

MAX_BYTES = 2**63 - 1
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5, "e": 1024**6}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtpe]?)(i?b?)\s*$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DEFAULT_NAME = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$")


def named_path(value: Any) -> Any:
    """The path a result names by ``__fspath__`` (a ``LoopDevice``, ``LogicalVolume``, ``Mapping``…); anything else
    unchanged: the one place a passed-on result becomes text, for checks that also accept a name."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def parse_size(value: Any, *, what: str = "size", minimum: int = 0, multiple_of: int = 1) -> int:
    """Return ``value`` in bytes; ValidationError for negatives, junk, fractions of a byte and overflow."""
    if isinstance(value, bool):
        raise ValidationError(f"{what}: {value!r} is not a size")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        if _CONTROL.search(value):
            raise ValidationError(f"{what}: {value!r} contains control characters")
        m = _SIZE_RE.match(value)
        if not m:
            raise ValidationError(
                f"{what}: cannot read {value!r} as a size; "
                "use bytes or a number with K, M, G, T, P or E (e.g. 10G, 10GiB)"
            )
        number, unit, suffix = m.groups()
        if suffix.lower() == "i":  # "10Gi" without B is ambiguous; accept like LVM does
            suffix = "ib"
        try:
            exact = Decimal(number) * _UNITS[unit.lower()]
        except InvalidOperation:
            raise ValidationError(f"{what}: cannot read {value!r} as a size") from None
        if exact != exact.to_integral_value():
            raise ValidationError(f"{what}: {value!r} is not a whole number of bytes")
        size = int(exact)
    else:
        raise ValidationError(f"{what}: expected bytes (int) or a string like '10G', got {type(value).__name__}")
    if size < 0:
        raise ValidationError(f"{what}: {value!r} is negative")
    if size > MAX_BYTES:
        raise ValidationError(f"{what}: {value!r} is too large")
    if size < minimum:
        raise ValidationError(f"{what}: {value!r} is smaller than the minimum of {size_text(minimum)}")
    if multiple_of > 1 and size % multiple_of:
        raise ValidationError(f"{what}: {value!r} is not a multiple of {size_text(multiple_of)}")
    return size


_PERCENT_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*(FREE|VG)\s*$", re.IGNORECASE)
ROUNDINGS = ("up", "down")


@dataclass(frozen=True, slots=True)
class SizeSpec:
    """A size as an administrator writes it, checked for syntax before anything is probed.

    ``kind``: ``absolute`` (``10G``, bytes), ``grow``/``shrink`` (``+100M``, ``-1G``: by that much), ``percent``
    (``50%FREE``, ``100%VG``: of the free space or of the whole VG) or ``grow-percent`` (``+50%FREE``).
    """

    text: str
    kind: str
    amount: int = 0  # bytes (absolute, grow, shrink)
    percent: Decimal = Decimal(0)  # percent kinds
    of: str = ""  # FREE | VG

    @property
    def relative(self) -> bool:
        """Whether the result depends on the current size or the free space (rounded down to the step, by rule)."""
        return self.kind != "absolute"

    def resolve(
        self,
        *,
        current: int | None = None,
        free: int | None = None,
        total: int | None = None,
        what: str = "size",
        step: int = 1,
        round: str | None = None,  # noqa: A002 - the option's name on the CLI and in every plugin
        unit: str = "",
        minimum: int = 1,
        error: type[ValidationError] = ValidationError,
    ) -> int:
        """Bytes for this size. Relative and percentage sizes need ``current`` / ``free`` / ``total`` and are rounded
        down to a multiple of ``step``; an absolute size that is not a multiple is refused naming the nearest valid
        ones, unless ``round`` is ``"up"`` or ``"down"``. ``unit`` says what ``step`` is (for the message)."""
        rounding = check_round(round)
        step = max(1, step)
        if self.kind in ("grow", "shrink"):
            if current is None:
                raise ValidationError(f"{what}: {self.text!r} is relative, but there is no current size to start from")
            nbytes = current + self.amount if self.kind == "grow" else current - self.amount
            nbytes = nbytes // step * step
        elif self.kind in ("percent", "grow-percent"):
            base = free if self.of == "FREE" else total
            if base is None:
                raise ValidationError(f"{what}: {self.text!r} (a percentage of {self.of}) is not supported here")
            part = int(Decimal(base) * self.percent / 100)
            if self.kind == "grow-percent":
                if current is None:
                    raise ValidationError(f"{what}: {self.text!r} is relative, but there is no current size")
                part += current
            nbytes = part // step * step
        else:
            nbytes = self.amount
            if nbytes % step:
                down, up = nbytes // step * step, (nbytes // step + 1) * step
                if rounding == "up":
                    nbytes = up
                elif rounding == "down":
                    nbytes = down
                else:
                    hint = f"{size_text(down)} or {size_text(up)}" if down else size_text(up)
                    of = f", {unit}" if unit else ""
                    raise error(f"{what}: {size_text(nbytes)} is not a multiple of {size_text(step)}{of}; ask for "
                                f"{hint}, or round it (round='up'|'down', --round up|down)")
        if nbytes < max(minimum, 1):
            raise ValidationError(f"{what}: {self.text!r} comes to {size_text(nbytes)}, below the minimum of "
                                  f"{size_text(max(minimum, 1))}")
        if nbytes > MAX_BYTES:
            raise ValidationError(f"{what}: {self.text!r} is too large")
        return nbytes


def check_round(value: Any) -> str | None:
    """``round=``: None, ``"up"`` or ``"down"``."""
    if value is None or value in ROUNDINGS:
        return value
    raise ValidationError(f"round: {value!r} is not 'up' or 'down'")


def size_spec(value: Any, *, what: str = "size", relative: bool = True, percent: bool = False) -> SizeSpec:
    """Check the syntax of a size: absolute (``10G``, bytes), and where allowed relative (``+100M``, ``-1G``) or a
    percentage (``50%FREE``, ``+50%FREE``, ``100%VG``, where the plugin knows free and total space)."""
    if isinstance(value, str) and value.strip()[:1] in ("+", "-"):
        text = value.strip()
        sign, rest = text[0], text[1:]
        if not relative:
            raise ValidationError(f"{what}: {value!r}: a relative size is not accepted here")
        m = _PERCENT_RE.match(rest) if percent else None
        if m and sign == "+":
            return SizeSpec(text, "grow-percent", percent=_percent(m.group(1), what, value), of=m.group(2).upper())
        if _PERCENT_RE.match(rest):
            raise ValidationError(f"{what}: {value!r}: only +N%FREE-style growth is accepted"
                                  if percent else f"{what}: {value!r}: percentages are not accepted here")
        amount = parse_size(rest, what=what, minimum=1)
        return SizeSpec(text, "grow" if sign == "+" else "shrink", amount)
    if isinstance(value, str) and "%" in value:
        m = _PERCENT_RE.match(value)
        if not percent or not m:
            raise ValidationError(f"{what}: {value!r}: percentages (N%FREE, N%VG) are not accepted here"
                                  if not percent else f"{what}: cannot read {value!r} (use e.g. 50%FREE or 100%VG)")
        return SizeSpec(value.strip(), "percent", percent=_percent(m.group(1), what, value), of=m.group(2).upper())
    return SizeSpec(str(value), "absolute", parse_size(value, what=what, minimum=1))


def _percent(number: str, what: str, value: Any) -> Decimal:
    pct = Decimal(number)
    if not 0 < pct <= 100:
        raise ValidationError(f"{what}: {value!r}: a percentage must be above 0 and at most 100")
    return pct


def _check_text(value: Any, what: str) -> str:
    value = named_path(value)
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"{what}: {value!r} is not valid UTF-8") from None
    if not isinstance(value, str):
        raise ValidationError(f"{what}: expected a string, got {type(value).__name__}")
    if not value:
        raise ValidationError(f"{what}: must not be empty")
    if "\x00" in value:
        raise ValidationError(f"{what}: {value!r} contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what}: {value!r} is not valid UTF-8") from None
    return value


def validate_name(value: Any, *, what: str = "name", pattern: re.Pattern[str] | None = None, max_len: int = 127) -> str:
    """Check an object name (LV, VG, subvolume, mapping, domain): no leading '-', '/', whitespace or '..'."""
    text = _check_text(value, what)
    if text.startswith("-"):
        raise ValidationError(f"{what}: {text!r} starts with '-' and would be read as an option")
    if "/" in text:
        raise ValidationError(f"{what}: {text!r} contains '/'")
    if text in (".", ".."):
        raise ValidationError(f"{what}: {text!r} is not a name")
    if any(c.isspace() for c in text) or _CONTROL.search(text):
        raise ValidationError(f"{what}: {text!r} contains whitespace or control characters")
    if len(text.encode()) > max_len:
        raise ValidationError(f"{what}: {text[:20]!r}… is longer than {max_len} bytes")
    if not (pattern or _DEFAULT_NAME).match(text):
        raise ValidationError(f"{what}: {text!r} may only use letters, digits and + _ . -")
    return text


_SHELL_META = re.compile(r"[$`;|&<>*?\"'\\]")


def validate_path(
    value: Any,
    *,
    what: str = "path",
    must_exist: bool = False,
    kind: str | None = None,
    absolute: bool = True,
    allow_special: bool = False,
) -> str:
    """Check a filesystem path; ``kind`` is ``"block"``, ``"dir"`` or ``"file"`` to require that type.

    Shell metacharacters (``$ ` ; | & < > * ? " ' \\``) are refused unless ``allow_special``: no shell ever sees the
    path, but in an administrator's path they are almost always a quoting mistake upstream.
    """
    text = _check_text(value, what)
    if not allow_special and _SHELL_META.search(text):
        raise ValidationError(f"{what}: {text!r} contains shell metacharacters; rename it or quote it properly")
    if text.startswith("-"):
        raise ValidationError(f"{what}: {text!r} starts with '-' and would be read as an option")
    if _CONTROL.search(text):
        raise ValidationError(f"{what}: {text!r} contains control characters")
    if text != text.strip():
        raise ValidationError(f"{what}: {text!r} starts or ends with whitespace")
    if absolute and not text.startswith("/"):
        raise ValidationError(f"{what}: {text!r} is not an absolute path")
    if ".." in text.split("/"):
        raise ValidationError(f"{what}: {text!r} contains a '..' component; give the path without it")
    if len(text) > 4095:
        raise ValidationError(f"{what}: path is longer than 4095 bytes")
    if must_exist or kind:
        from .runner import get_runner

        found = get_runner().path_kind(text)  # where commands run: this machine, or the remote host
        if found is None:
            raise NotFoundError(f"{what}: {text} does not exist")
        if kind is not None and found != kind:
            label = {"block": "a block device", "dir": "a directory", "file": "a regular file"}.get(kind, kind)
            raise ValidationError(f"{what}: {text} is not {label}")
    return text


def validate_device(value: Any, *, what: str = "device") -> str:
    """Check that ``value`` is an existing block device path."""
    return validate_path(value, what=what, kind="block")


def format_size(size: int) -> str:
    """Human form of a byte count (``10.0G``) for tables."""
    value = float(size)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if abs(value) < 1024 or unit == "P":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{size}B"


def size_text(size: int) -> str:
    """A byte count as messages show it: exact, and readable past 1 KiB (``14022656 bytes (13.4 MiB)``)."""
    if abs(size) < 1024:
        return f"{size} bytes"
    human = format_size(size)
    return f"{size} bytes ({human[:-1]} {human[-1]}iB)"


__all__ = ["Path", "SizeSpec", "check_round", "format_size", "named_path", "parse_size", "size_spec", "size_text",
           "validate_device", "validate_name", "validate_path"]
