"""Input checks of this plugin, run before any command: device paths, mountpoints, labels, UUIDs, fs types."""

from __future__ import annotations

import os
import re
import uuid as uuidlib
from typing import Any

from pybofh_core.errors import ValidationError
from pybofh_core.runner import get_runner
from pybofh_core.validate import validate_path

from .effects import LOOP
from .types import FILESYSTEMS, LoopDevice

#: Longest label each filesystem accepts, in bytes.
LABEL_MAX = {"ext2": 16, "ext3": 16, "ext4": 16, "xfs": 12, "btrfs": 255, "swap": 16}
_OPTION_RE = re.compile(r"^[A-Za-z0-9_.:@/=+-]+$")


def _kind(path: str) -> str | None:
    """``block``, ``dir``, ``file``, ``other`` or None (missing) for ``path`` where commands run (the runner asks)."""
    from pybofh_core.runner import get_runner

    return get_runner().path_kind(path)


def check_device(value: Any, *, what: str = "device") -> str:
    """An existing block device path (absolute, not option-like); NotFoundError when missing."""
    return validate_path(value, what=what, kind="block")


def check_loop_device(value: Any) -> str:
    """An existing ``/dev/loopN`` device (in a dry run, also one a planned step attached: its path may be a
    placeholder until the run)."""
    path = check_device(value, what="loop device")
    model = get_runner().model
    if model is not None and isinstance(model.get(LOOP, path), LoopDevice):
        return path
    if not re.fullmatch(r"/dev/loop[0-9]+", path) and not re.fullmatch(r"/dev/loop[0-9]+", get_runner().realpath(path)):
        raise ValidationError(f"loop device: {path} is not a /dev/loopN device")
    return path


def check_file(value: Any, *, what: str = "backing file") -> str:
    """An existing regular file (absolute path)."""
    return validate_path(value, what=what, kind="file")


def check_directory(value: Any, *, what: str = "mountpoint") -> str:
    """An existing directory (absolute path), normalised without a trailing slash."""
    return os.path.normpath(validate_path(value, what=what, kind="dir"))


def check_fstype(value: Any) -> str:
    """One of the filesystems this plugin can make: ext2/3/4, xfs, btrfs, swap."""
    if not isinstance(value, str) or value not in FILESYSTEMS:
        raise ValidationError(f"filesystem type {value!r} is not supported; use one of {', '.join(FILESYSTEMS)}")
    return value


def check_label(value: Any, fstype: str) -> str:
    """A label the filesystem accepts: no control characters, not option-like, within its length limit."""
    if not isinstance(value, str):
        raise ValidationError(f"label: expected a string, got {type(value).__name__}")
    if value.startswith("-"):
        raise ValidationError(f"label {value!r} starts with '-' and would be read as an option")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(f"label {value!r} contains control characters")
    limit = LABEL_MAX.get(fstype, 16)
    if len(value.encode()) > limit:
        raise ValidationError(f"label {value!r} is longer than the {limit} bytes {fstype} allows")
    return value


def check_uuid(value: Any) -> str:
    """A canonical UUID string (``xxxxxxxx-xxxx-...``)."""
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise ValidationError(f"UUID {value!r} is not a valid UUID") from None


def check_options(options: Any) -> tuple[str, ...]:
    """Mount options as a tuple of single options (``ro``, ``noatime``, ``subvol=x``); no commas or whitespace."""
    if isinstance(options, str):
        options = [o for o in options.split(",") if o]
    try:
        items = tuple(options)
    except TypeError:
        raise ValidationError(f"mount options {options!r} must be a list of strings") from None
    for opt in items:
        if not isinstance(opt, str) or not _OPTION_RE.match(opt) or opt.startswith("-"):
            raise ValidationError(f"mount option {opt!r} is not a plain option (letters, digits, =, _ . : @ / + -)")
    return items
