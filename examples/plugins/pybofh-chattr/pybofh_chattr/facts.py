"""Readers: one read-only ``lsattr`` through the core runner (so ``--host`` reads that host), parsed purely."""

from __future__ import annotations

import dataclasses

from pybofh_core.errors import CommandError, NotFoundError, ParseError
from pybofh_core.runner import PathInfo, get_runner, run
from pybofh_core.validate import PathArg, validate_path

from .errors import AttributesUnsupportedError
from .parsers import parse_lsattr
from .types import FileAttributes

#: what lsattr/chattr say on stderr for a file that has no ext2-style attributes
_UNSUPPORTED = ("Operation not supported", "Inappropriate ioctl for device")
#: what ``lsattr -v`` says for a filesystem without inode generations (tmpfs)
_NO_GENERATION = "While reading version"


def _stderr(exc: CommandError) -> str:
    return exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr


def resolve_file(path: PathArg, *, what: str = "path") -> tuple[str, PathInfo]:
    """Check ``path`` (syntax, then that it exists where commands run and is a regular file or a directory) and
    return its resolved path and its ``PathInfo`` (device and inode: its identity). Raises ``ValidationError`` /
    ``NotFoundError`` before any command that changes something; the existence questions are read-only."""
    text = validate_path(path, what=what)
    runner = get_runner()
    real = runner.realpath(text)
    info = runner.stat(real)
    if info is None:
        raise NotFoundError(f"{what}: {text} does not exist")
    if info.kind not in ("file", "dir"):
        kind = "a block device" if info.kind == "block" else "neither a regular file nor a directory"
        raise AttributesUnsupportedError(f"{what}: {text} is {kind}: attributes are read and set only on files and "
                                         "directories")
    return real, info


def unsupported(exc: CommandError, path: str) -> AttributesUnsupportedError | None:
    """The typed error for a CommandError saying that ``path``'s filesystem has no attributes, else None."""
    if any(marker in _stderr(exc) for marker in _UNSUPPORTED):
        return AttributesUnsupportedError(f"{path}: it has no file attributes (its filesystem, /proc or sysfs for "
                                          "instance, does not support them)")
    return None


def _lsattr(argv: list[str], real: str) -> bytes:
    """Run one read-only lsattr; a file without attributes is ``AttributesUnsupportedError``."""
    try:
        return run(argv, readonly=True).stdout
    except CommandError as exc:
        raise unsupported(exc, real) or exc from None


def read_attributes(real: str, info: PathInfo) -> FileAttributes:
    """``lsattr -d -v`` of the already checked, resolved path ``real`` (from ``resolve_file``): its attributes and
    its inode's generation number, with the device and inode of ``info``. A filesystem that has attributes but no
    generation (tmpfs, whose inode numbers are not reused at once) is read with ``lsattr -d``: generation None."""
    argv = ["lsattr", "-d", "-v", "--", real]
    try:
        out = run(argv, readonly=True).stdout
    except CommandError as exc:
        if _NO_GENERATION not in _stderr(exc):
            raise unsupported(exc, real) or exc from None
        argv = ["lsattr", "-d", "--", real]
        out = _lsattr(argv, real)
    source = " ".join(argv)
    found = parse_lsattr(out, source=source)
    if len(found) != 1 or found[0].path != real or (found[0].generation is None) == ("-v" in argv):
        raise ParseError("lsattr", f"expected one line for {real}, got {len(found)}", out, source)
    return dataclasses.replace(found[0], dev=info.dev, ino=info.ino)


def get_attributes(path: PathArg) -> FileAttributes:
    """The attributes of the file or directory ``path`` (symlinks followed), with its device and inode."""
    real, info = resolve_file(path)
    return read_attributes(real, info)
