"""The write-ahead journal of atomic blocks: one JSON-lines file per block, fsync'd around every step.

A block holds an exclusive ``flock`` on its file while it runs, so a reader knows a file whose lock is free and which
has neither ``commit`` nor ``rollback_end`` belongs to a process that died: ``bofh journal rollback ID`` then replays
the recorded undos in reverse order and appends what it did, so a rollback that is itself interrupted can resume.
"""

from __future__ import annotations

import dataclasses
import enum
import errno
import fcntl
import json
import os
import secrets as _random
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from .errors import JournalError, NotFoundError
from .secret import Secret, scrub

FORMAT_VERSION = 1


def to_jsonable(value: Any) -> tuple[Any, bool]:
    """Convert ``value`` for the journal; the flag says whether it round-trips (False for secrets, objects…)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, str):
            return scrub(value), True
        return value, True
    if isinstance(value, Secret):
        return {"__secret__": True}, False
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)[0], False
    if isinstance(value, PurePath):
        return str(value), True
    if isinstance(value, (list, tuple)):
        items = [to_jsonable(v) for v in value]
        return [v for v, _ in items], all(ok for _, ok in items)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        ok = True
        for k, v in value.items():
            jv, jok = to_jsonable(v)
            out[str(k)] = jv
            ok = ok and jok and isinstance(k, str)
        return out, ok
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})[0], False
    return scrub(repr(value)), False


def default_journal_dir() -> Path:
    """The journal directory: ``/var/lib/pybofh/journal`` for root, else under ``$XDG_STATE_HOME``."""
    if os.geteuid() == 0:
        return Path("/var/lib/pybofh/journal")
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "pybofh" / "journal"


class JournalWriter:
    """An open journal file of one running block: appends records, fsyncs, and holds the file's lock."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.id = path.stem
        self._fd = fd

    def append(self, record: dict[str, Any], *, sync: bool = True) -> None:
        """Append one record as a JSON line; with ``sync`` it is on disk before this returns."""
        if self._fd < 0:
            raise JournalError(f"journal {self.id} is closed")
        record = {"t": round(time.time(), 6), **record}
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
        data = line.encode("utf-8", "surrogateescape")
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        if sync:
            os.fdatasync(self._fd)  # data and the file size reach the disk; mtime may lag, which nothing reads

    def close(self) -> None:
        """Release the lock and close the file."""
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


@dataclass
class StepState:
    """One step as the journal tells it."""

    step: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)
    runner: dict[str, Any] = field(default_factory=dict)
    state: str = "started"  # started | done | failed | undone | undo_failed
    undo: dict[str, Any] | None = None
    error: str | None = None
    parent: int | None = None


@dataclass
class JournalState:
    """A parsed journal file: block metadata, its steps and its overall status."""

    id: str
    path: Path
    started: float = 0.0
    pid: int | None = None
    host: str = ""
    label: str | None = None
    argv: list[str] = field(default_factory=list)
    steps: list[StepState] = field(default_factory=list)
    committed: bool = False
    rollback_ended: bool | None = None  # None = no rollback finished; True/False = ok/with failures
    locked: bool = False

    @property
    def status(self) -> str:
        """``running``, ``committed``, ``rolled-back``, ``rollback-failed``, ``interrupted`` or ``empty``."""
        if self.locked:
            return "running"
        if self.committed:
            return "committed"
        if self.rollback_ended is True:
            return "rolled-back"
        if self.rollback_ended is False:
            return "rollback-failed"
        if not any(s.state in ("done", "started", "undo_failed") for s in self.steps):
            return "empty"
        return "interrupted"

    def pending_undos(self) -> list[StepState]:
        """Steps whose effect is still in place (done, or an earlier undo failed), newest first."""
        return [s for s in reversed(self.steps) if s.state in ("done", "undo_failed") and s.undo is not None]

    def in_flight(self) -> list[StepState]:
        """Steps that started but never reported an outcome: the process died during them."""
        return [s for s in self.steps if s.state == "started"]

    def to_json(self) -> dict[str, Any]:
        """Summary for ``bofh journal show --json``."""
        return {
            "id": self.id,
            "status": self.status,
            "started": self.started,
            "pid": self.pid,
            "host": self.host,
            "label": self.label,
            "argv": self.argv,
            "steps": [dataclasses.asdict(s) for s in self.steps],
        }


def parse_journal(path: Path, text: str) -> JournalState:
    """Read a journal file's records; a torn last line (a write cut by ``kill -9``) is ignored, other damage is not."""
    state = JournalState(id=path.stem, path=path)
    lines = text.split("\n")
    by_step: dict[int, StepState] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # final line without newline: torn write
                break
            raise JournalError(f"journal {path.name} is damaged at line {i + 1}") from None
        kind = rec.get("type")
        if kind == "begin":
            state.started = rec.get("t", 0.0)
            state.pid = rec.get("pid")
            state.host = rec.get("host", "")
            state.label = rec.get("label")
            state.argv = rec.get("argv", [])
        elif kind == "step":
            s = StepState(rec["step"], rec["op"], rec.get("args", {}), rec.get("runner", {}), parent=rec.get("parent"))
            by_step[s.step] = s
            state.steps.append(s)
        elif kind in ("done", "failed", "undone", "undo_failed", "forgotten") and rec.get("step") in by_step:
            s = by_step[rec["step"]]
            s.state = {"forgotten": "failed"}.get(kind, kind)
            if kind == "done":
                s.undo = rec.get("undo")
            if "error" in rec:
                s.error = rec["error"]
        elif kind == "commit":
            state.committed = True
        elif kind == "rollback_end":
            state.rollback_ended = bool(rec.get("ok"))
    return state


class Journal:
    """A directory of journal files, one per atomic block."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        if directory is None:
            from .settings import get_settings

            directory = get_settings().core.journal_dir or default_journal_dir()
        self.dir = Path(directory)

    def create(self, label: str | None = None) -> JournalWriter:
        """Start a new journal file for a block, locked by this process, with its ``begin`` record on disk."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise JournalError(f"cannot create journal directory {self.dir}: {exc.strerror}") from exc
        for _ in range(100):
            jid = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}-{_random.token_hex(3)}"
            path = self.dir / f"{jid}.jsonl"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                raise JournalError(f"cannot write journal in {self.dir}: {exc.strerror}") from exc
            fcntl.flock(fd, fcntl.LOCK_EX)
            _fsync_dir(self.dir)
            writer = JournalWriter(path, fd)
            writer.append(
                {
                    "type": "begin",
                    "v": FORMAT_VERSION,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "label": label,
                    "argv": [scrub(a) for a in sys.argv],
                }
            )
            return writer
        raise JournalError(f"cannot find a free journal name in {self.dir}")

    def path_of(self, jid: str) -> Path:
        """The file of journal ``jid``; NotFoundError when there is none."""
        if not jid or "/" in jid or jid.startswith("."):
            raise NotFoundError(f"no journal {jid!r}")
        path = self.dir / f"{jid}.jsonl"
        if not path.is_file():
            raise NotFoundError(f"no journal {jid!r} in {self.dir} (see 'bofh journal list')")
        return path

    def load(self, jid: str) -> JournalState:
        """Parse journal ``jid`` and find out whether its block is still running (its lock is held)."""
        path = self.path_of(jid)
        state = parse_journal(path, path.read_bytes().decode("utf-8", "surrogateescape"))
        state.locked = _is_locked(path)
        return state

    def list(self) -> list[JournalState]:
        """All journals, oldest first."""
        if not self.dir.is_dir():
            return []
        out = []
        for path in sorted(self.dir.glob("*.jsonl")):
            try:
                out.append(self.load(path.stem))
            except (JournalError, NotFoundError, OSError):
                out.append(JournalState(id=path.stem, path=path, rollback_ended=False))
        return out

    def rollback(
        self, jid: str, resolve: Callable[[str], Callable[..., Any]], make_runner: Callable[[dict[str, Any]], Any]
    ) -> RollbackReport:
        """Undo what journal ``jid`` recorded as done and not yet undone, newest first, recording each undo.

        ``resolve`` maps an operation name to its function, ``make_runner`` a recorded runner description to a runner.
        """
        from .runner import use_runner

        path = self.path_of(jid)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise JournalError(f"journal {jid} belongs to a block that is still running") from None
            raise
        writer = JournalWriter(path, fd)
        report = RollbackReport(jid)
        try:
            state = parse_journal(path, path.read_bytes().decode("utf-8", "surrogateescape"))
            if state.committed:
                raise JournalError(f"journal {jid} was committed; there is nothing to roll back")
            report.in_flight = [s.op for s in state.in_flight()]
            writer.append({"type": "rollback_start", "pid": os.getpid()})
            for step in state.pending_undos():
                undo = step.undo or {}
                try:
                    if not undo.get("replayable"):
                        raise JournalError(
                            f"undo {undo.get('op')} of step {step.step} cannot be replayed from the journal"
                        )
                    func = resolve(undo["op"])
                    with use_runner(make_runner(step.runner)):
                        func(*undo.get("args", []), **undo.get("kwargs", {}))
                except Exception as exc:  # noqa: BLE001 - every failure is recorded, the rest still runs
                    writer.append({"type": "undo_failed", "step": step.step, "error": scrub(str(exc))})
                    report.failed.append((step.op, exc))
                else:
                    writer.append({"type": "undone", "step": step.step})
                    report.undone.append(step.op)
            writer.append({"type": "rollback_end", "ok": not report.failed})
        finally:
            writer.close()
        return report


@dataclass
class RollbackReport:
    """What ``bofh journal rollback`` did: undone steps, failed undos, steps whose outcome is unknown."""

    id: str
    undone: list[str] = field(default_factory=list)
    failed: list[tuple[str, BaseException]] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)


def _is_locked(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the raw records of a journal file (for tests and debugging)."""
    for line in path.read_text("utf-8", "surrogateescape").splitlines():
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                return
