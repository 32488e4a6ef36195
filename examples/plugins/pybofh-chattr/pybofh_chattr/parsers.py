"""Pure parsers for e2fsprogs' ``lsattr`` (no I/O): text in, typed results out, or ``ParseError``.

Claimed format: the short listing of ``lsattr``, ``lsattr -d`` and ``lsattr -v`` from e2fsprogs 1.46 and 1.47
(recorded: 1.47.0, Debian 12), one line per file: with ``-v`` the inode's generation number and spaces, then a
column of 22 flag positions, each ``-`` or the flag's own letter at its own position, one space, then the path as
given (it may contain spaces). Not claimed: the long listing (``-l``), the project column (``-p``), the ``-R``
directory headers, and the 1.45-and-older columns of other widths.
"""

from __future__ import annotations

import re

from pybofh_core.errors import ParseError
from pybofh_core.parsing import public_parsers

from .types import FileAttributes

#: lsattr's flag positions, in its order (e2fsprogs lib/e2p/pf.c): letter and the long name (``lsattr -l``, snake
#: case)
FLAGS: tuple[tuple[str, str], ...] = (
    ("s", "secure_deletion"),
    ("u", "undelete"),
    ("S", "synchronous_updates"),
    ("D", "synchronous_directory_updates"),
    ("i", "immutable"),
    ("a", "append_only"),
    ("d", "no_dump"),
    ("A", "no_atime"),
    ("c", "compression_requested"),
    ("E", "encrypted"),
    ("j", "journaled_data"),
    ("I", "indexed_directory"),
    ("t", "no_tailmerging"),
    ("T", "top_of_directory_hierarchies"),
    ("e", "extents"),
    ("C", "no_cow"),
    ("x", "dax"),
    ("F", "casefold"),
    ("N", "inline_data"),
    ("P", "project_hierarchy"),
    ("V", "verity"),
    ("m", "dont_compress"),
)
_WIDTH = len(FLAGS)
_LINE = re.compile(r"(?:([0-9]+) +)?(\S+) (.+)")


def parse_lsattr(text: str | bytes, *, source: str | None = None) -> list[FileAttributes]:
    """Every file listed by ``lsattr [-d] [-v] PATH…`` (short format of e2fsprogs 1.46 and 1.47), in order.

    A line that is not ``FLAGS PATH`` with the 22 known flag positions is a ``ParseError`` naming it; an empty
    output is an empty list.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("lsattr", f"output is not UTF-8: {exc}", text[:120], source) from None
    found: list[FileAttributes] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise ParseError("lsattr", "expected '[GENERATION] FLAGS PATH'", line, source)
        generation, flags, path = m.groups()
        if len(flags) != _WIDTH:
            raise ParseError("lsattr", f"expected {_WIDTH} flag positions, got {len(flags)}", line, source)
        names: list[str] = []
        for char, (letter, name) in zip(flags, FLAGS, strict=True):
            if char == letter:
                names.append(name)
            elif char != "-":
                raise ParseError("lsattr", f"{char!r} where {letter!r} or '-' belongs", line, source)
        found.append(
            FileAttributes(
                path=path,
                flags=flags,
                attributes=tuple(names),
                immutable="immutable" in names,
                append_only="append_only" in names,
                generation=None if generation is None else int(generation),
            )
        )
    return found


public_parsers(globals())
