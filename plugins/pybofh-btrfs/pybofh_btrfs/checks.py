"""Input checks run before any btrfs command: names, paths, and whether a path is a subvolume.

Existence checks look at the filesystem where commands run (as the core's ``validate_path`` does). In a dry run
they read it with the planning model laid over (``planned``): a subvolume or send stream an earlier planned step
made is there, one it deleted is not, so a plan is refused where the run would be.
"""

from __future__ import annotations

import posixpath
import re

from pybofh_core.errors import NotFoundError, ValidationError
from pybofh_core.model import GONE
from pybofh_core.runner import DryRunRunner, get_runner
from pybofh_core.validate import validate_name, validate_path

from . import planned
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


_KIND_LABEL = {"block": "a block device", "dir": "a directory", "file": "a regular file"}


def path_kind(path: str) -> str | None:
    """What is at ``path`` where commands run (``dir``, ``file``, ``block``, ``other``; None: nothing), in a dry
    run as the planned steps leave it: a planned subvolume is a ``dir``, a planned send stream a ``file``."""
    found = planned.lookup(path)
    if found.obj is GONE:
        return None
    if isinstance(found.obj, planned.PlannedSubvolume):
        return "dir"
    if found.obj is not None:
        return "file"
    return get_runner().path_kind(found.real or path)


def check_existing_path(path: object, *, what: str, kind: str | None = None) -> str:
    """:func:`check_path` plus: it exists (and is a ``kind``: ``dir``/``file``/``block``), in a dry run as the
    planned steps leave it."""
    text = check_path(path, what=what)
    if not dry_run():
        validate_path(text, what=what, must_exist=True, kind=kind)
        return text
    found = path_kind(text)
    if found is None:
        raise NotFoundError(f"{what}: {text} does not exist")
    if kind is not None and found != kind:
        raise ValidationError(f"{what}: {text} is not {_KIND_LABEL.get(kind, kind)}")
    return text


def check_subvolume(path: object, *, what: str = "subvolume") -> str:
    """An existing btrfs subvolume (its root directory has inode 256), in a dry run as the planned steps leave it;
    typed errors otherwise."""
    text = check_path(path, what=what)
    found = planned.lookup(text)
    if isinstance(found.obj, planned.PlannedSubvolume):
        return text
    if found.obj is GONE:
        raise SubvolumeNotFoundError(f"{what}: {text} does not exist")
    if found.obj is None and not found.copied:
        subvolume = is_subvolume_root(found.real or text, what=what)
    elif found.obj is None and get_runner().path_kind(found.real or text) is None:
        raise SubvolumeNotFoundError(f"{what}: {text} does not exist")
    else:  # a planned stream file; or inside a planned copy, where a nested subvolume is an empty directory
        subvolume = False
    if not subvolume:
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
    if exists(text):  # where btrfs will create it
        raise ValidationError(f"{what}: {text} already exists; choose a new name or delete it first")
    try:
        check_existing_path(parent, what=f"{what} parent directory", kind="dir")
    except NotFoundError:
        raise NotFoundError(f"{what}: parent directory {parent} does not exist") from None
    return text


def exists(path: str) -> bool:
    """Whether anything is at ``path`` where commands run (a dangling symlink too), in a dry run as the planned
    steps leave it."""
    found = planned.lookup(path)
    if found.obj is not None:
        return found.obj is not GONE
    return get_runner().exists(found.real or path)
