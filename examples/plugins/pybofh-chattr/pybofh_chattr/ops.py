"""Operations that change file attributes, each the other's undo, identified by the file's device and inode.

``set_immutable`` / ``clear_immutable`` run ``chattr +i`` / ``chattr -i``; ``set_append_only`` /
``clear_append_only`` run ``chattr +a`` / ``chattr -a``. A call that finds the file already as asked runs no
``chattr`` and leaves nothing to undo. The undo acts only on the same file (device and inode where commands run,
and the inode's generation, since ext4 gives a freed inode number to the next new file): a file deleted since
counts as already undone, another file now at that path is left alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from pybofh_core import operation, undo
from pybofh_core.errors import CommandError, NotFoundError
from pybofh_core.identity import ACT, Verdict, already, other
from pybofh_core.operations import Undo, undo_ahead, undoing
from pybofh_core.runner import get_runner, run
from pybofh_core.validate import PathArg

from .errors import AttributesUnsupportedError, ChattrError
from .facts import read_attributes, resolve_file, unsupported
from .types import AttributeChange

_LETTER = {"immutable": "i", "append_only": "a"}
_TOOLS = ["chattr", "lsattr"]  # lsattr reads the state before (nothing to do?) and after (did it take?)


def _identify(attribute: str, value: bool) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Verdict]:
    """``identify=`` of the operation that sets ``attribute`` to ``value`` when it runs as an undo: act only on the
    file with the recorded device, inode and generation, and only if it is not already as the undo would leave
    it."""

    def identify(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
        path = args["path"]
        try:
            real, info = resolve_file(path)
        except NotFoundError:
            return already(f"{path} is gone")
        except AttributesUnsupportedError as exc:  # a device node, a symlink into /proc…: not the step's file
            return other(str(exc))
        want = (identity.get("dev"), identity.get("ino"), identity.get("generation"))
        now = read_attributes(real, info)
        if (now.dev, now.ino, now.generation) != want:
            return other(f"{path} is now another file (device {now.dev}, inode {now.ino}, generation "
                         f"{now.generation}), not the step's (device {want[0]}, inode {want[1]}, generation {want[2]})")
        if getattr(now, attribute) == value:
            return already(f"{path} is already {'' if value else 'not '}{attribute.replace('_', '-')}")
        return ACT

    return identify


def _change(path: PathArg, attribute: str, value: bool, opposite: Callable[..., Any]) -> AttributeChange:
    """Set ``attribute`` of ``path`` to ``value`` with chattr, journalling ``opposite`` as the undo first."""
    real, info = resolve_file(path)  # every check before any command that changes something
    before = read_attributes(real, info)
    done = AttributeChange(real, attribute, value, False, before.dev, before.ino, before.generation)
    # Nothing to do when the file already is so; except while a dry run plans this call as a step's undo: the step
    # was only planned, so the file is still as it was before it, and the undo's command is what the plan must show.
    if getattr(before, attribute) == value and not (undoing() and get_runner().dry_run):
        return done
    undo_ahead(lambda: _undo_of(opposite, done))
    try:
        run(["chattr", f"{'+' if value else '-'}{_LETTER[attribute]}", "--", real])
    except CommandError as exc:
        raise unsupported(exc, real) or exc from None
    if not get_runner().dry_run:  # a plan: nothing changed to read back
        after = read_attributes(real, info)
        if getattr(after, attribute) != value:
            raise ChattrError(f"chattr ran, but {real} is still {'not ' if value else ''}"
                              f"{attribute.replace('_', '-')} (lsattr: {after.flags})")
    return dataclasses.replace(done, changed=True)


def _undo_of(op: Callable[..., Any], r: AttributeChange) -> Undo:
    """``op`` on the very file ``r`` names."""
    return undo(op, r.path).expecting(dev=r.dev, ino=r.ino, generation=r.generation)


def _inverse(op: str) -> Callable[[AttributeChange], Undo | None]:
    """``inverse=``: undo with the operation named ``op`` (of this module) on the same file, or nothing when the call
    changed nothing. By name: the operations are each other's inverse, and mypy cannot type a decorator argument
    that refers to a function decorated after it ("Cannot determine type")."""
    return lambda r: _undo_of(globals()[op], r) if r.changed else None


@operation(inverse=_inverse("clear_immutable"), identify=_identify("immutable", True), requires=_TOOLS)
def set_immutable(path: PathArg) -> AttributeChange:
    """Make the file or directory PATH immutable (``chattr +i``): no write, rename, delete or link, even by root."""
    return _change(path, "immutable", True, clear_immutable)


@operation(inverse=_inverse("set_immutable"), identify=_identify("immutable", False), requires=_TOOLS)
def clear_immutable(path: PathArg) -> AttributeChange:
    """Make the file or directory PATH mutable again (``chattr -i``)."""
    return _change(path, "immutable", False, set_immutable)


@operation(inverse=_inverse("clear_append_only"), identify=_identify("append_only", True),
           requires=_TOOLS)
def set_append_only(path: PathArg) -> AttributeChange:
    """Make PATH append-only (``chattr +a``): a file can only be opened for appending."""
    return _change(path, "append_only", True, clear_append_only)


@operation(inverse=_inverse("set_append_only"), identify=_identify("append_only", False),
           requires=_TOOLS)
def clear_append_only(path: PathArg) -> AttributeChange:
    """Clear PATH's append-only attribute (``chattr -a``)."""
    return _change(path, "append_only", False, set_append_only)
