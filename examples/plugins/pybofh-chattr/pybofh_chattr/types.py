"""Frozen results of pybofh-chattr: what ``lsattr`` reports for one file, and what an operation changed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileAttributes:
    """The attributes of one file as ``lsattr -d`` prints them.

    ``flags`` is lsattr's column of letters as printed (``----i---------e-------``); ``attributes`` the long names
    of the ones set (``immutable``, ``extents``…, in lsattr's order). ``dev``, ``ino`` and ``generation`` identify
    the file where commands run: the inode's generation number (``lsattr -v``; None when not listed) changes when
    the filesystem reuses a freed inode number for a new file, which ext4 does at once. ``dev`` and ``ino`` are 0
    when read from lsattr's text alone (lsattr does not print them).
    """

    path: str
    flags: str
    attributes: tuple[str, ...]
    immutable: bool
    append_only: bool
    generation: int | None = None
    dev: int = 0
    ino: int = 0

    def __fspath__(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class AttributeChange:
    """What ``set_immutable`` & co. did: ``attribute`` (``immutable`` / ``append_only``) is now ``value``;
    ``changed`` is False when the file already was so (then there is nothing to undo). ``dev``, ``ino`` and
    ``generation`` name the file the undo may act on."""

    path: str
    attribute: str
    value: bool
    changed: bool
    dev: int
    ino: int
    generation: int | None

    def __fspath__(self) -> str:
        return self.path
