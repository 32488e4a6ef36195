"""Mounts as context managers: ``Mounted`` for one mount, ``MountPool`` for a set of reusable mountpoints.

``MountPool`` is the seed's example: ``with pool.mount('/dev/sda1') as mp:`` takes a free slot, mounts, and on exit
unmounts and frees the slot. Slots are claimed with ``fcntl.flock`` on a lock file per slot in the directory of the
``core.mountpool_lock_dir`` setting, so two processes (or two pools in one process) never get the same slot, and a
slot whose holder died is free again (the kernel drops its lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pybofh_core.errors import ValidationError
from pybofh_core.validate import validate_path

from . import facts, ops
from .errors import MountPoolExhaustedError


class Mounted(contextlib.AbstractContextManager["str"]):
    """``with Mounted(dev) as mp:`` mounts ``dev`` (on ``mountpoint``, or a new temp dir) and unmounts on exit."""

    def __init__(self, device: str, mountpoint: str | None = None, options: Any = ()) -> None:
        self.device = device
        self.mountpoint = mountpoint
        self.options = options
        self._made_dir = False
        self._mounted: str | None = None

    def __enter__(self) -> str:
        if self.mountpoint is None:
            self.mountpoint = tempfile.mkdtemp(prefix="pybofh-mnt-")
            self._made_dir = True
        try:
            self._mounted = ops.mount(self.device, self.mountpoint, self.options).target
        except BaseException:
            self._cleanup_dir()
            raise
        return self._mounted

    def __exit__(self, *exc: object) -> None:
        try:
            if self._mounted is not None:
                ops.unmount(self._mounted)
                self._mounted = None
        finally:
            self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        if self._made_dir and self.mountpoint is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.mountpoint)
            self._made_dir = False
            self.mountpoint = None


class MountPool:
    """A fixed set of mountpoint directories handed out one per mount, shared safely between processes."""

    def __init__(self, dirs: Iterable[str], lock_dir: str | os.PathLike[str] | None = None) -> None:
        self.dirs = [os.path.normpath(validate_path(d, what="MountPool directory")) for d in dirs]
        if not self.dirs:
            raise ValidationError("a MountPool needs at least one directory")
        if len(set(self.dirs)) != len(self.dirs):
            raise ValidationError("MountPool directories must be distinct")
        self._lock_dir = Path(lock_dir) if lock_dir is not None else None

    @property
    def lock_dir(self) -> Path:
        """Where slot lock files live (``core.mountpool_lock_dir`` unless given)."""
        if self._lock_dir is not None:
            return self._lock_dir
        from pybofh_core.session import get_settings

        return Path(get_settings().core.mountpool_lock_dir)

    def _lock_path(self, slot: str) -> Path:
        digest = hashlib.sha256(slot.encode()).hexdigest()[:16]
        safe = slot.strip("/").replace("/", "_")[-60:]
        return self.lock_dir / f"slot-{safe}-{digest}.lock"

    def _claim(self) -> tuple[str, int]:
        """Lock the first free slot; return it with the lock's file descriptor."""
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        mounts = facts.list_mounts()
        for slot in self.dirs:
            fd = os.open(self._lock_path(slot), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            if facts.mount_at(slot, mounts) is not None:  # used by someone outside pybofh
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                continue
            return slot, fd
        raise MountPoolExhaustedError(
            f"no free mountpoint in the pool ({', '.join(self.dirs)}): all are in use"
        )

    @contextlib.contextmanager
    def mount(self, device: str, options: Any = ()) -> Iterator[str]:
        """Mount ``device`` on a free slot for the ``with`` block and yield the mountpoint; the slot is freed after.

        A failed mount frees the slot at once. Raises MountPoolExhaustedError when every slot is taken.
        """
        slot, fd = self._claim()
        try:
            os.makedirs(slot, exist_ok=True)
            with Mounted(device, slot, options) as mountpoint:
                yield mountpoint
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
