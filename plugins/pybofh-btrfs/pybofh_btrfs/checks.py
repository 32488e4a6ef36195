"""Input checks run before any btrfs command: names, paths, and whether a path is a subvolume.

Existence checks look at this host's filesystem (as the core's ``validate_path`` does). In a dry run they are
skipped for things an earlier planned step would have created, since nothing was really created.
"""

from __future__ import annotations

import posixpath
import re

from pybofh_core.errors import NotFoundError, ValidationError
from pybofh_core.runner import DryRunRunner, get_runner
from pybofh_core.validate import validate_name, validate_path

from .errors import NotASubvolumeError, SubvolumeNotFoundError

SUBVOLUME_NAME = re.compile(r"^[A-Za-z0-9+_.@][A-Za-z0-9+_.@:-]*$")
"""Subvolume names: letters, digits and ``+ _ . @ : -`` (``@``, ``@home`` and snapper names are common), no
leading ``-``; ``/``, whitespace and ``..`` are refused by :func:`validate_name` before this pattern."""

SUBVOLUME_ROOT_INODE = 256
"""The inode number of every btrfs subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID)."""


def dry_run() -> bool:
    """Whether commands are only being planned (an ``Atomic(dry_run=True)`` block or ``bofh --dry-run``)."""
    return get_runner().dry_run


def check_name(name: object, *, what: str = "subvolume name") -> str:
    """A subvolume name: no ``/``, no leading ``-``, no whitespace, not ``.``/``..``."""
    return validate_name(name, what=what, pattern=SUBVOLUME_NAME, max_len=255)


def check_path(path: object, *, what: str) -> str:
    """An absolute path without ``..`` components, control characters or a leading ``-``; normalised."""
    text = validate_path(path, what=what)
    if ".." in text.split("/"):
        raise ValidationError(f"{what}: {text!r} contains a '..' component; give the real path")
    norm = posixpath.normpath(text)
    return "/" if norm in ("/", "//") else norm


def check_existing_path(path: object, *, what: str, kind: str | None = None) -> str:
    """:func:`check_path` plus: it exists (and is a ``kind``: ``dir``/``file``/``block``), unless dry-running."""
    text = check_path(path, what=what)
    if not dry_run():
        validate_path(text, what=what, must_exist=True, kind=kind)
    return text


def check_subvolume(path: object, *, what: str = "subvolume") -> str:
    """An existing btrfs subvolume (its root directory has inode 256); typed errors otherwise."""
    text = check_path(path, what=what)
    if dry_run():
        return text
    if not is_subvolume_root(text, what=what):
        raise NotASubvolumeError(f"{what}: {text} is not a btrfs subvolume (an ordinary directory or file)")
    return text


def is_subvolume_root(path: str, *, what: str = "subvolume") -> bool:
    """Whether ``path`` is the root directory of a btrfs subvolume; SubvolumeNotFoundError if it does not exist."""
    from pybofh_core.runner import LocalRunner, get_runner, run

    runner = get_runner()
    inner = runner.inner if isinstance(runner, DryRunRunner) else runner
    if not isinstance(inner, LocalRunner) and inner.name != "fake":  # remote: ask where the commands run
        res = run(["stat", "-L", "-c", "%i %F", "--", path], readonly=True, check=False)
        if res.returncode != 0:
            if "No such file" in res.err:
                raise SubvolumeNotFoundError(f"{what}: {path} does not exist")
            raise ValidationError(f"{what}: cannot access {path}: {res.err.strip()}")
        inode, _, kind = res.text.strip().partition(" ")
        return inode == str(SUBVOLUME_ROOT_INODE) and kind == "directory"
    try:
        info = inner.stat(path)  # this kernel (no command), or the fake runner's table
    except ValidationError as exc:  # "cannot access PATH: REASON"
        raise ValidationError(f"{what}: {exc}") from None
    if info is None:
        raise SubvolumeNotFoundError(f"{what}: {path} does not exist")
    return info.ino == SUBVOLUME_ROOT_INODE and info.kind == "dir"


def check_new_path(path: object, *, what: str) -> str:
    """The path of something to create: valid last component, existing parent directory, nothing there yet."""
    text = check_path(path, what=what)
    parent, name = posixpath.split(text)
    if not name:
        raise ValidationError(f"{what}: {text!r} has no name to create")
    check_name(name, what=f"{what} name")
    if get_runner().exists(text):  # where btrfs will create it
        raise ValidationError(f"{what}: {text} already exists; choose a new name or delete it first")
    if not dry_run():
        try:
            validate_path(parent, what=f"{what} parent directory", must_exist=True, kind="dir")
        except NotFoundError:
            raise NotFoundError(f"{what}: parent directory {parent} does not exist") from None
    return text
