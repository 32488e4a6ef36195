"""Advisory locks per object, so two atomic blocks never change the same LV, device, mount, subvolume or domU at once.

A block takes the lock of each object its steps act on (declared with ``@operation(locks=...)``, else its ``target``)
and holds it until the block ends — committed or rolled back — so another job cannot slip in between a step and
its undo. A second block asking for a held object is refused at once with the holder's pid and journal, or, with
``wait``, waits for it. Locks are ``flock`` files in ``core.lock_dir`` on the machine pybofh runs on; a key names the
host commands run on (``--host``), so jobs driven from one machine exclude each other on every host they touch.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import PybofhError


class ObjectBusyError(PybofhError):
    """Another job holds the lock of an object this step acts on (nothing of this step ran)."""


class ObjectLocks:
    """The object locks one atomic block holds (released together when the block ends)."""

    def __init__(self, owner: dict[str, Any], *, directory: str | os.PathLike[str], wait: bool = False,
                 poll: float = 0.2) -> None:
        """``directory``: where the lock files are (the session's ``core.lock_dir``)."""
        self.directory = Path(directory)
        self.owner = owner  # pid, journal id, label: what a refused job is told
        self.wait = wait
        self.poll = poll
        self._held: dict[str, int] = {}

    def holds(self, key: str) -> bool:
        """Whether this block already holds ``key``."""
        return key in self._held

    def acquire(self, keys: Iterable[str], outer: Iterable[ObjectLocks] = ()) -> None:
        """Take the lock of every key not held yet by this block or an enclosing one; refuse (or wait) on a busy one."""
        enclosing = list(outer)
        for key in keys:
            if key in self._held or any(o.holds(key) for o in enclosing):
                continue
            self._take(key)

    def _take(self, key: str) -> None:
        directory = self.directory
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ObjectBusyError(f"cannot take the lock of {key} in {directory}: {exc.strerror}") from None
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
                holder = _read_owner(fd)
                if not self.wait:
                    os.close(fd)
                    raise ObjectBusyError(f"{key} is being changed by another job ({_describe(holder)}); wait for it "
                                          "to finish, or pass --wait (Atomic(wait=True))") from None
                if not waited:
                    import logging

                    logging.getLogger("pybofh.locks").warning("waiting for %s (%s)", key, _describe(holder))
                    waited = True
                time.sleep(self.poll)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({**self.owner, "key": key}).encode(), 0)
        self._held[key] = fd

    def release(self) -> None:
        """Drop every lock (the block ended)."""
        while self._held:
            _, fd = self._held.popitem()
            with contextlib.suppress(OSError):
                os.close(fd)


def _read_owner(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        value = json.loads(data) if data else {}
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(owner: dict[str, Any]) -> str:
    parts = [f"pid {owner['pid']}" if owner.get("pid") else "pid unknown"]
    if owner.get("journal"):
        parts.append(f"journal {owner['journal']}")
    if owner.get("label"):
        parts.append(str(owner["label"]))
    return ", ".join(parts)


__all__ = ["ObjectBusyError", "ObjectLocks"]
