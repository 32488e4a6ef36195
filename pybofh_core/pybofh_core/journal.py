"""The write-ahead journal of atomic blocks: one JSON-lines file per block, fsync'd around every step.

A block holds an exclusive ``flock`` on its file while it runs, so a reader knows a file whose lock is free and which
has neither ``commit`` nor ``rollback_end`` belongs to a process that died: ``bofh journal rollback ID`` then replays
the recorded undos in reverse order and appends what it did, so a rollback that is itself interrupted can resume.

Records (format version 2; version 1 files are read too): ``begin`` (pid, host, boot id, label, argv), ``step``
(operation, redacted arguments, runner, what kind of undo it has), ``ahead`` (an undo journalled before the step's
command ran), ``done`` (the undo, with the identity of the object), ``failed``, ``commit``, ``rollback_start``,
``undone`` (``how``: undone or already), ``left_alone``, ``unknown``, ``undo_failed``, ``rollback_end``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import secrets as _random
import socket
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import JournalError, JournalUnreadableError, NotFoundError, ValidationError
from .secret import scrub

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


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
        #: Set when a write failed (disk full, read-only): later writes are skipped, the block's memory rules.
        self.broken: str | None = None

    def append(self, record: dict[str, Any], *, sync: bool = True) -> None:
        """Append one record as a JSON line; with ``sync`` it is on disk before this returns.

        Raises :class:`JournalError` when the record cannot be written (and marks the writer broken).
        """
        if self._fd < 0:
            raise JournalError(f"journal {self.id} is closed")
        if self.broken:
            raise JournalError(f"journal {self.id} could not be written: {self.broken}")
        record = {"t": round(time.time(), 6), **record}
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
        data = line.encode("utf-8", "surrogateescape")
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if sync:
                os.fdatasync(self._fd)  # data and the file size reach the disk; mtime may lag, which nothing reads
        except OSError as exc:
            self.broken = exc.strerror or str(exc)
            raise JournalError(f"journal {self.id} could not be written: {self.broken}") from None

    def note(self, record: dict[str, Any]) -> bool:
        """Append a record if the journal can still be written; never raises (for rollbacks, which must go on)."""
        if self._fd < 0 or self.broken:
            return False
        try:
            self.append(record)
        except JournalError:
            return False
        return True

    def close(self) -> None:
        """Release the lock and close the file."""
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


StepStatus = str
"""``started`` | ``done`` | ``failed`` | ``undone`` | ``already`` | ``left-alone`` | ``unknown`` | ``undo_failed``"""


@dataclass
class StepState:
    """One step as the journal tells it."""

    step: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)
    runner: dict[str, Any] = field(default_factory=dict)
    state: StepStatus = "started"
    undo: dict[str, Any] | None = None
    error: str | None = None
    parent: int | None = None
    kind: str | None = None  # inverse | irreversible | no_undo | composite | None (version 1 journals)
    ahead: dict[str, Any] | None = None  # the undo journalled before the command ran
    commands: list[str] = field(default_factory=list)  # the mutating commands the step ran
    undo_commands: list[str] = field(default_factory=list)  # the mutating commands its undo ran

    @property
    def needs_undo(self) -> bool:
        """Whether a rollback has work to do for this step (its effect may still be there)."""
        if self.state in ("done", "undo_failed"):
            return self.undo is not None or self.ahead is not None
        if self.state in ("started", "failed", "unknown"):
            return self.ahead is not None
        return False

    @property
    def outcome_unknown(self) -> bool:
        """A step that was running when its process died, with an undo nobody can know (none journalled ahead)."""
        return self.state in ("started", "unknown") and self.ahead is None and self.kind in ("inverse", None)


@dataclass
class JournalState:
    """A parsed journal file: block metadata, its steps and its overall status."""

    id: str
    path: Path
    started: float = 0.0
    pid: int | None = None
    host: str = ""
    boot_id: str | None = None
    version: int = 1
    label: str | None = None
    argv: list[str] = field(default_factory=list)
    steps: list[StepState] = field(default_factory=list)
    committed: bool = False
    #: a nested block's journal whose steps an enclosing block took over (that block's journal id)
    merged_into: str | None = None
    rollback_ended: bool | None = None  # None = no rollback finished; True/False = everything undone or not
    rollback_pid: int | None = None
    locked: bool = False

    @property
    def status(self) -> str:
        """``running``, ``committed``, ``merged`` (into an enclosing block's journal), ``rolled-back``,
        ``needs-attention``, ``interrupted`` or ``empty``."""
        if self.locked:
            return "running"
        if self.merged_into:
            return "merged"
        if self.committed:
            return "committed"
        if self.rollback_ended is True:
            return "rolled-back"
        if self.rollback_ended is False:
            return "needs-attention"
        if not any(s.needs_undo or s.outcome_unknown for s in self.steps):
            return "empty"
        return "interrupted"

    def pending_undos(self) -> list[StepState]:
        """Steps whose effect may still be in place, newest first."""
        return [s for s in reversed(self.steps) if s.needs_undo]

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
            "boot_id": self.boot_id,
            "label": self.label,
            "merged_into": self.merged_into,
            "argv": self.argv,
            "steps": [dataclasses.asdict(s) for s in self.steps],
        }


def parse_journal(path: Path, text: str) -> JournalState:
    """Read a journal file's records; a torn last line (a write cut by ``kill -9``) is ignored, other damage is not.

    A journal written by a newer pybofh (an unknown format version) is refused rather than misread.
    """
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
            raise JournalUnreadableError(f"journal {path.name} is damaged at line {i + 1}") from None
        kind = rec.get("type")
        step = by_step.get(rec.get("step"))  # type: ignore[arg-type]
        if kind == "begin":
            version = rec.get("v", 1)
            if version not in READABLE_VERSIONS:
                raise JournalUnreadableError(
                    f"journal {path.name} has format version {version!r}; this pybofh reads versions "
                    f"{', '.join(map(str, READABLE_VERSIONS))} (roll it back with the pybofh that wrote it)"
                )
            state.version = version
            state.started = rec.get("t", 0.0)
            state.pid = rec.get("pid")
            state.host = rec.get("host", "")
            state.boot_id = rec.get("boot_id")
            state.label = rec.get("label")
            state.argv = rec.get("argv", [])
        elif kind == "step":
            s = StepState(rec["step"], rec["op"], rec.get("args", {}), rec.get("runner", {}),
                          parent=rec.get("parent"), kind=rec.get("kind"))
            by_step[s.step] = s
            state.steps.append(s)
        elif step is not None and kind == "ahead":
            step.ahead = rec.get("undo")
        elif step is not None and kind in ("done", "failed", "undone", "left_alone", "unknown", "undo_failed",
                                           "forgotten"):
            if kind == "undone":
                step.state = "already" if rec.get("how") == "already" else "undone"
            else:
                step.state = {"forgotten": "failed", "left_alone": "left-alone"}.get(kind, kind)
            if kind == "done":
                step.undo = rec.get("undo")
            if kind in ("done", "failed") and "commands" in rec:
                step.commands = list(rec["commands"])
            elif "commands" in rec:
                step.undo_commands = list(rec["commands"])
            if "error" in rec or "detail" in rec:
                step.error = rec.get("error") or rec.get("detail")
        elif kind == "commit":
            state.committed = True
            state.merged_into = rec.get("into")
        elif kind == "rollback_start":
            state.rollback_pid = rec.get("pid")
            state.rollback_ended = None
        elif kind == "rollback_end":
            state.rollback_ended = bool(rec.get("ok"))
    return state


#: statuses of journals whose block ended with nothing left to undo: the only ones ``prune`` deletes
PRUNABLE = ("committed", "rolled-back", "merged", "empty")


class Journal:
    """A directory of journal files, one per atomic block."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        """``directory``: where the journal files are (the session's is ``pybofh_core.session.journal()``)."""
        self.dir = Path(directory)

    def create(self, label: str | None = None) -> JournalWriter:
        """Start a new journal file for a block, locked by this process, with its ``begin`` record on disk.

        When the ``begin`` record cannot be written (a full or read-only disk) no file is left and
        :class:`JournalError` says why: the block must not run.
        """
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
                raise JournalError(f"cannot write a journal in {self.dir}: {exc.strerror}") from exc
            writer = JournalWriter(path, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                writer.append(
                    {
                        "type": "begin",
                        "v": FORMAT_VERSION,
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "boot_id": _boot_id(),
                        "label": label,
                        "argv": [scrub(a) for a in sys.argv],
                    }
                )
                fsync_dir(self.dir)
            except (JournalError, OSError) as exc:
                writer.close()
                with contextlib.suppress(OSError):
                    path.unlink()
                why = exc.strerror if isinstance(exc, OSError) else writer.broken
                raise JournalError(f"cannot write a journal in {self.dir}: {why}; nothing was run") from None
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

    def prune(self, *, older_than: float, statuses: Collection[str] = PRUNABLE, dry_run: bool = False
              ) -> Sequence[str]:
        """Delete journals whose block ended (``statuses``, a subset of :data:`PRUNABLE`) and that began more than
        ``older_than`` seconds ago; return their ids, oldest first. Journals that still hold work to undo
        (interrupted, needs-attention) or whose block is running are never deleted. ``dry_run``: delete nothing."""
        unknown = set(statuses) - set(PRUNABLE)
        if unknown:
            raise ValidationError(f"journals with status {', '.join(sorted(unknown))} still hold undo information "
                                  f"and are never pruned (prunable: {', '.join(PRUNABLE)}); roll them back first")
        if not self.dir.is_dir():
            return []
        cutoff = time.time() - older_than
        removed = []
        for path in sorted(self.dir.glob("*.jsonl")):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a running block (or a rollback) holds it
                except OSError:
                    continue
                try:
                    state = parse_journal(path, path.read_bytes().decode("utf-8", "surrogateescape"))
                except (JournalError, OSError):
                    continue  # damaged or unreadable: an administrator looks at it, we do not delete it
                if state.status in statuses and state.started and state.started < cutoff:
                    if not dry_run:
                        path.unlink()
                    removed.append(state.id)
            finally:
                os.close(fd)
        if removed and not dry_run:
            fsync_dir(self.dir)
        return removed

    def rollback(
        self,
        jid: str,
        resolve: Callable[[str], Callable[..., Any]],
        make_runner: Callable[[dict[str, Any]], Any],
        *,
        dry_run: bool = False,
    ) -> RollbackReport:
        """Undo what journal ``jid`` recorded and is not undone yet, newest first, recording each outcome.

        Each undo's identity is checked first: a gone object counts as already undone, a different one is left
        alone. A step that was running when its process died is undone if an undo was journalled ahead of it,
        else reported as unknown. ``resolve`` maps an operation name to its function, ``make_runner`` a recorded
        runner description to a runner. With ``dry_run`` nothing is written or changed: the report's ``plan``
        holds each undo's commands.
        """
        from . import signals
        from .rollback import Outcome, PendingUndo, undo_newest_first
        from .runner import DryRunRunner

        path = self.path_of(jid)
        fd = os.open(path, os.O_RDONLY if dry_run else os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        if not dry_run:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise _busy(jid, path) from None
                raise
        writer = JournalWriter(path, fd)
        report = RollbackReport(jid, dry_run=dry_run)
        try:
            state = parse_journal(path, path.read_bytes().decode("utf-8", "surrogateescape"))
            report.boot_changed = bool(state.boot_id and state.boot_id != _boot_id())
            if state.merged_into:
                raise JournalError(f"journal {jid} was merged into journal {state.merged_into}; roll that one back")
            if state.committed:
                raise JournalError(f"journal {jid} was committed; there is nothing to roll back")
            if state.rollback_ended is True:
                report.already_rolled_back = True
                return report
            report.unknown = [s.op for s in state.steps if s.outcome_unknown]
            report.in_flight = [s.op for s in state.in_flight()]
            if not dry_run:
                writer.append({"type": "rollback_start", "pid": os.getpid()})
            with signals.defer(raise_pending=False):
                for step in state.steps:
                    if step.outcome_unknown and not dry_run:
                        writer.note({"type": "unknown", "step": step.step,
                                     "detail": "running when its process died; no undo was journalled ahead"})
                # Newest first: once a step is not undone (left alone, unknown, failed), what it left may be inside
                # the objects of older steps, so their undos run with their data checks.
                unsettled = {s.step for s in state.steps if s.state == "left-alone" or s.outcome_unknown}

                def pending() -> Iterator[PendingUndo]:
                    for step in state.pending_undos():
                        undo = (step.undo if step.state in ("done", "undo_failed") else None) or step.ahead or {}
                        if not undo.get("replayable"):
                            yield PendingUndo(step.step, source=(step, undo), refused=Outcome(
                                "failed", f"undo {undo.get('op')} of step {step.step} cannot be replayed from the "
                                "journal"))
                            continue
                        try:
                            func = resolve(undo["op"])
                            runner = make_runner(step.runner)
                        except Exception as exc:  # noqa: BLE001 - recorded like a failed undo
                            yield PendingUndo(step.step, source=(step, undo),
                                              refused=Outcome("failed", scrub(str(exc)), exc))
                            continue
                        yield PendingUndo(step.step, func, undo.get("args", []), undo.get("kwargs", {}),
                                          undo.get("identity"), DryRunRunner(runner) if dry_run else runner,
                                          source=(step, undo))

                def settle(item: PendingUndo, outcome: Outcome) -> None:
                    step, undo = item.source
                    if dry_run and item.refused is None:
                        report.plan.append((step.op, undo, outcome.commands, outcome))
                    report.record(step, outcome)
                    if not dry_run:
                        writer.note(outcome_record(step.step, outcome))

                undo_newest_first(pending(), settle, unsettled=unsettled)
            if not dry_run:
                ok = report.complete
                writer.note({"type": "rollback_end", "ok": ok, "status": "rolled-back" if ok else "needs-attention"})
                report.journal_broken = writer.broken
        finally:
            writer.close()
        return report


def outcome_record(step: int, outcome: Any) -> dict[str, Any]:
    """The journal record of one undo's outcome (with the commands the undo ran, if any)."""
    rec: dict[str, Any]
    if outcome.state in ("undone", "already"):
        rec = {"type": "undone", "step": step, "how": outcome.state}
        if outcome.detail:
            rec["detail"] = outcome.detail
    elif outcome.state == "left-alone":
        rec = {"type": "left_alone", "step": step, "detail": outcome.detail}
    else:
        rec = {"type": "undo_failed", "step": step, "error": outcome.detail}
    if outcome.commands:
        rec["commands"] = list(outcome.commands)
    return rec


@dataclass
class RollbackReport:
    """What ``bofh journal rollback`` did (or, in a dry run, would do) with each step."""

    id: str
    dry_run: bool = False
    undone: list[str] = field(default_factory=list)
    already: list[tuple[str, str]] = field(default_factory=list)
    left_alone: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, BaseException]] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    already_rolled_back: bool = False
    boot_changed: bool = False
    journal_broken: str | None = None
    #: dry run: (operation, undo record, commands it would run, identity verdict as an Outcome)
    plan: list[tuple[str, dict[str, Any], list[str], Any]] = field(default_factory=list)

    def record(self, step: StepState, outcome: Any) -> None:
        """File one undo's outcome under its kind."""
        if outcome.state == "undone":
            self.undone.append(step.op)
        elif outcome.state == "already":
            self.already.append((step.op, outcome.detail))
        elif outcome.state == "left-alone":
            self.left_alone.append((step.op, outcome.detail))
        else:
            self.failed.append((step.op, outcome.error or JournalError(outcome.detail)))

    @property
    def complete(self) -> bool:
        """Whether everything the block did is undone now (nothing failed, left alone or unknown)."""
        return not (self.failed or self.left_alone or self.unknown)


def _boot_id() -> str | None:
    from .runner import local_boot_id

    try:
        return local_boot_id()
    except OSError:
        return None


def _busy(jid: str, path: Path) -> JournalError:
    """Why another process holds journal ``jid``'s lock: its block still runs, or another rollback runs."""
    try:
        state = parse_journal(path, path.read_bytes().decode("utf-8", "surrogateescape"))
    except (JournalError, OSError):
        state = None
    holder = _lock_holder(path)
    if state is not None and holder is not None and holder != state.pid:
        return JournalBusyError(f"journal {jid} is being rolled back by pid {holder}; wait for it to finish")
    if state is not None and state.rollback_pid is not None and state.rollback_ended is None and holder is None:
        return JournalBusyError(f"journal {jid} is being rolled back by pid {state.rollback_pid}")
    who = f" (pid {holder})" if holder is not None else ""
    return JournalBusyError(f"journal {jid} belongs to a block that is still running{who}")


class JournalBusyError(JournalError):
    """Another process holds the journal: its block still runs, or another rollback of it runs."""


def _lock_holder(path: Path) -> int | None:
    """The pid holding an flock on ``path``, from ``/proc/locks`` (None if it cannot be told)."""
    try:
        st = path.stat()
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in text.splitlines():
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fd:00:5678 0 EOF" (blocked waiters have "->" in 2nd place)
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == want:
            try:
                return int(parts[4])
            except ValueError:
                return None
    return None


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


def fsync_dir(path: Path) -> None:
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
