"""Fan-out: run one job on many hosts in parallel (bounded pool), one result per host, never stopping on a failure.

``fan_out(["db1", "db2"], job)`` calls ``job(host)`` in a worker thread whose runner is an ``SshRunner`` for
that host, so every pybofh call inside the job (and every ``Atomic()`` block with its rollback) runs on that host.
"""

from __future__ import annotations

import contextvars
import enum
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from pybofh_core.errors import RollbackError, ValidationError
from pybofh_core.runner import use_runner
from pybofh_core.secret import scrub

from .errors import HostUnreachableError
from .runner import SshRunner, validate_host


class HostStatus(enum.StrEnum):
    """How a job ended on one host."""

    OK = "ok"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


@dataclass
class HostResult:
    """The outcome of a fan-out job on one host: its value, or its error and what its atomic blocks undid."""

    host: str
    status: HostStatus
    value: Any = None
    error: str | None = None
    rolled_back: bool = False
    undone_steps: int = 0
    undo_failures: int = 0
    journals: list[str] = field(default_factory=list)
    seconds: float = 0.0
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the job finished without error on this host."""
        return self.status is HostStatus.OK

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json`` and tables (the exception object is left out, its text is in ``error``)."""
        return {
            "host": self.host,
            "status": self.status.value,
            "value": self.value,
            "error": self.error,
            "rolled_back": self.rolled_back,
            "undone_steps": self.undone_steps,
            "undo_failures": self.undo_failures,
            "journals": list(self.journals),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Tally:
    """Atomic-block events seen by one host's job (filled through the ``pybofh_on_atomic_event`` hook)."""

    undone: int = 0
    undo_failed: int = 0
    journals: list[str] = field(default_factory=list)


_tally: contextvars.ContextVar[_Tally | None] = contextvars.ContextVar("pybofh_ssh_tally", default=None)


def record_atomic_event(event: str, journal_id: str | None) -> None:
    """Count an atomic-block event for the fan-out job of the current context (ignored outside fan_out)."""
    tally = _tally.get()
    if tally is None:
        return
    if journal_id and journal_id not in tally.journals:
        tally.journals.append(journal_id)
    if event == "undone":
        tally.undone += 1
    elif event == "undo-failed":
        tally.undo_failed += 1


def _is_unreachable(exc: BaseException) -> bool:
    """Whether the job failed because its host could not be reached (also when rollback then failed too)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, HostUnreachableError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__
    return False


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, RollbackError):
        cause = f"{exc.__cause__}; " if exc.__cause__ is not None else ""
        return scrub(f"{cause}{exc.message}: " + "; ".join(str(e) for e in exc.exceptions))
    return scrub(str(exc) or type(exc).__name__)


def _run_one(runner: SshRunner, job: Callable[[str], Any], close: bool) -> HostResult:
    """Run ``job`` for one host with that host's runner active; turn any error into the result (never raises)."""
    tally = _Tally()
    token = _tally.set(tally)
    started = time.monotonic()
    host = runner.host or ""
    try:
        with use_runner(runner):
            value = job(host)
    except Exception as exc:  # noqa: BLE001 - one host's failure must not stop the others
        status = HostStatus.UNREACHABLE if _is_unreachable(exc) else HostStatus.FAILED
        return HostResult(
            host, status, error=_error_text(exc), rolled_back=tally.undone > 0, undone_steps=tally.undone,
            undo_failures=tally.undo_failed, journals=list(tally.journals), seconds=time.monotonic() - started,
            exception=exc,
        )
    finally:
        _tally.reset(token)
        if close:
            runner.close()
    return HostResult(host, HostStatus.OK, value=value, journals=list(tally.journals),
                      seconds=time.monotonic() - started)


def fan_out(
    hosts: Iterable[str],
    job: Callable[[str], Any],
    *,
    max_workers: int | None = None,
    runner_options: dict[str, Any] | None = None,
    on_result: Callable[[HostResult], None] | None = None,
    close: bool = True,
) -> list[HostResult]:
    """Run ``job(host)`` on every host in parallel (at most ``max_workers`` at once); one result per host, in order.

    Each job runs in its own thread with an ``SshRunner`` for its host (built from ``runner_options``) as the
    current runner, in a copy of the caller's context (settings overrides apply). A failure — a command error, an
    unreachable host, a rolled-back ``Atomic()`` block — becomes that host's result; the other hosts go on.
    ``on_result`` is called in the caller's thread as each host finishes (progress bars). Hosts and options are
    validated before any job starts. ``close=False`` leaves the master connections up (until ControlPersist).
    """
    from pybofh_core.operations import current_block

    host_list = [validate_host(h) for h in hosts]
    dupes = sorted({h for h in host_list if host_list.count(h) > 1})
    if dupes:
        raise ValidationError(f"fan_out: hosts given more than once: {', '.join(dupes)}")
    if current_block() is not None:
        raise ValidationError("fan_out cannot run inside an Atomic block; open the Atomic block inside the job")
    if max_workers is None:
        from .runner import _settings_defaults

        max_workers = _settings_defaults().max_workers
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ValidationError(f"fan_out: max_workers {max_workers!r} must be a positive integer")
    if not callable(job):
        raise ValidationError(f"fan_out: job {job!r} is not callable")
    runners = [SshRunner(h, **(runner_options or {})) for h in host_list]
    if not runners:
        return []
    results: list[HostResult | None] = [None] * len(runners)
    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(runners)), thread_name_prefix="bofh-ssh")
    pending: dict[Future[HostResult], int] = {}
    try:
        for i, runner in enumerate(runners):
            ctx = contextvars.copy_context()
            pending[pool.submit(ctx.run, _run_one, runner, job, close)] = i
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                results[i] = fut.result()
                if on_result is not None:
                    on_result(results[i])  # type: ignore[arg-type]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [r for r in results if r is not None]
