"""Atomic blocks: every step done inside is undone, in reverse order, if the block fails.

``AtomicOperationSequence`` is the seed's generic form (the caller supplies ``reverse``); ``Atomic`` knows
every plugin's registered inverses, journals each step so a killed process can be rolled back later, and polices
irreversible operations.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from . import recording, signals
from .errors import (
    IdentityMismatchError,
    IrreversibleOperationError,
    JournalError,
    JournalGroundError,
    PybofhError,
    RollbackError,
    StepKeptError,
    ValidationError,
)
from .journal import Journal, JournalWriter
from .locks import ObjectLocks
from .operations import (
    OperationRegistry,
    OperationSpec,
    Undo,
    apply_effects,
    bind,
    data_check,
    ensure_registered,
    redacted_args,
    refuse_irreversible,
    same_object,
    spec_of,
    target_of,
)
from .rollback import Outcome, PendingUndo, perform, undo_newest_first
from .runner import DryRunRunner, PlannedCommand, Runner, get_runner, record_commands, use_runner
from .secret import scrub


def _raise_rollback(failures: list[Exception], cause: BaseException | None, what: str, left: int = 0) -> None:
    """Raise ``RollbackError`` when an undo failed or was left alone (``left`` of the ``failures``), saying how many
    of each: an undo left alone (its object is another one now) did not fail, it refused on purpose."""
    if failures:
        failed = len(failures) - left
        parts = [f"{failed} undo step(s) failed"] if failed else []
        if left:
            parts.append(f"{left} left alone (another object is there now)")
        raise RollbackError(f"{what}: {' and '.join(parts)}", failures) from cause


class AtomicOperationSequence:
    """The seed's generic atomic block: ``reverse(f, args, kwargs)`` undoes a call (or returns a callable that does).

    ``atomic(f)(*args)`` and ``atomic.f(*args)`` (``f`` looked up where the block is written) both run ``f`` and
    remember it; if the block raises, each remembered call is reversed, newest first.
    """

    def __init__(self, reverse: Callable[[Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]) -> None:
        if not callable(reverse):
            raise ValidationError("AtomicOperationSequence needs a reverse(f, args, kwargs) function")
        self._reverse = reverse
        self._done: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._active = False

    def __enter__(self) -> AtomicOperationSequence:
        self._active = True
        return self

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``func`` so calling it runs it and, once it returned, records it for reversal."""
        if not callable(func):
            raise ValidationError(f"{func!r} is not callable")

        def call(*args: Any, **kwargs: Any) -> Any:
            result = func(*args, **kwargs)
            self._done.append((func, args, kwargs))
            return result

        return call

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        frame = sys._getframe(1)
        func = frame.f_locals.get(name, frame.f_globals.get(name))
        if func is None:
            func = getattr(frame.f_globals.get("__builtins__"), name, None)
        if not callable(func):
            raise AttributeError(f"no function {name!r} where this atomic block is written")
        return self(func)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        self._active = False
        if exc is not None:
            self.rollback(exc)
        self._done.clear()
        return False

    def rollback(self, cause: BaseException | None = None) -> None:
        """Reverse every recorded call, newest first; keep going on failure; raise RollbackError if any failed."""
        failures: list[Exception] = []
        while self._done:
            func, args, kwargs = self._done.pop()
            try:
                undo = self._reverse(func, args, kwargs)
                if callable(undo):
                    undo()
            except Exception as err:  # noqa: BLE001 - collected and re-raised as a group
                failures.append(err)
        _raise_rollback(failures, cause, "rollback incomplete")


@dataclass
class Step:
    """One recorded step of an ``Atomic`` block."""

    index: int
    spec: OperationSpec
    bound: dict[str, Any]
    runner: Runner
    undo: Undo | None = None
    commands: list[PlannedCommand] = field(default_factory=list)
    undo_commands: list[PlannedCommand] = field(default_factory=list)
    #: the step failed, but an undo was journalled ahead of its command: rollback checks whether its effect is there
    uncertain: bool = False
    outcome: Outcome | None = None

    def describe(self) -> str:
        """``op(args)`` with secrets masked."""
        parts = [f"{k}={v!r}" for k, v in self.bound.items()]
        return scrub(f"{self.spec.qualname}({', '.join(parts)})")


class _DomainProxy:
    """``atomic.lvm``: attribute access returns the registered operation, recorded by the block when called."""

    def __init__(self, atomic: Atomic, domain: str) -> None:
        self._atomic = atomic
        self._domain = domain

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        func = self._atomic.registry.get(f"{self._domain}.{name}")
        return self._atomic(func)

    def __dir__(self) -> list[str]:
        return sorted(s.name for s in self._atomic.registry.specs(self._domain))


class Atomic:
    """An atomic block that knows every plugin's inverses: ``atomic.lvm.create_lv(...)`` is undone if the block fails.

    :param dry_run: run nothing that changes the system; record each step's commands and its undo's (``plan``).
    :param allow_irreversible: allow irreversible operations on things the block did not create.
    :param journal: journal steps to disk (default) so ``bofh journal rollback ID`` can finish a killed block;
        a ``Journal`` or False.
    :param label: a name shown by ``bofh journal list``.
    :param lazy_journal: create the journal file only when the first step is recorded, and remove it at the end if
        no step did anything (a block that runs nothing — a read-only command, a call refused by its checks before
        its first mutating command — leaves no file).
    :param wait: when another job holds the lock of an object a step acts on, wait for it instead of refusing.
    """

    def __init__(
        self,
        *,
        dry_run: bool = False,
        allow_irreversible: bool = False,
        journal: Journal | bool = True,
        label: str | None = None,
        registry: OperationRegistry | None = None,
        lazy_journal: bool = False,
        wait: bool = False,
    ) -> None:
        self.dry_run = dry_run
        self._lazy: Journal | None = None
        self._lazy_wanted = lazy_journal
        #: a step of this block did something the journal must keep (finished, or ran a mutating command)
        self._acted = False
        self.allow_irreversible = allow_irreversible
        self.label = label
        self._journal_opt = journal
        self._registry = registry
        self.steps: list[Step] = []
        self.created: list[str] = []
        self._writer: JournalWriter | None = None
        self._contexts = contextlib.ExitStack()  # what __enter__ set up, undone by _close in reverse
        self._dry: DryRunRunner | None = None
        self._outer: Atomic | None = None
        self._open = False
        self._counter = 0
        self.outcomes: list[tuple[Step, Outcome]] = []
        self._wait = wait
        self._locks: ObjectLocks | None = None
        self._ground_keys: set[str] | None = None

    # --- set-up -------------------------------------------------------------------------------------------------
    @property
    def registry(self) -> OperationRegistry:
        """The operation registry (all discovered plugins' operations unless one was given)."""
        if self._registry is None:
            from .session import get_plugins

            self._registry = get_plugins().operations
        return self._registry

    @property
    def journal_id(self) -> str | None:
        """The id of this block's journal (for ``bofh journal show``), None when not journalled."""
        return self._writer.id if self._writer else None

    def __enter__(self) -> Atomic:
        if self._open:
            raise PybofhError("this Atomic block is already open")
        outer = recording.current_block()
        self._outer = outer if isinstance(outer, Atomic) else None
        current = get_runner()
        if isinstance(current, DryRunRunner):  # e.g. inside `bofh --dry-run`: plan into the same recorder
            self.dry_run = True
            self._dry = current
        elif self.dry_run:
            self._dry = DryRunRunner(current)
            self._contexts.enter_context(use_runner(self._dry))
        elif self._journal_opt:
            if isinstance(self._journal_opt, Journal):
                journal = self._journal_opt
            else:
                from .session import journal as session_journal

                journal = session_journal()
            if self._lazy_wanted:
                self._lazy = journal  # created with the first step
            else:
                self._writer = journal.create(self.label)  # a journal that cannot be written: nothing runs
        if not self.dry_run:
            from .session import lock_dir

            self._locks = ObjectLocks({"pid": os.getpid(), "label": self.label,
                                       "journal": self._writer.id if self._writer else None}, wait=self._wait,
                                      directory=lock_dir())
            self._contexts.enter_context(signals.guard())  # SIGINT/SIGTERM/SIGHUP roll the block back
        self._contexts.enter_context(recording.opened(self))
        if not recording.inside_step() and (recording.recorder() is None
                                            or isinstance(recording.recorder(), Atomic)):
            # an operation called directly in the block is a step too, as through ``atomic.<domain>.<op>``; not
            # when something else records (the CLI's lazy block, which opens this block itself, or a step)
            self._contexts.enter_context(recording.recording(self))
        self._open = True
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        try:
            if exc is None:
                try:
                    self._commit()
                except JournalError as err:  # the commit record could not be written: undo, say why
                    self.rollback(err)
                    raise
            elif self.dry_run:  # the steps were only planned: nothing to undo, the planning error is the answer
                if not any("dry run: planning stopped" in n for n in getattr(exc, "__notes__", [])):
                    exc.add_note("dry run: planning stopped here; nothing was changed")
            else:
                self.rollback(exc)
        finally:
            self._close()
        late = signals.pending() if not self.dry_run else None
        if late is not None and not isinstance(exc, signals.Interrupted):
            raise signals.Interrupted(late) from exc  # a signal came during the rollback: report it too
        return False

    def _close(self) -> None:
        self._contexts.close()
        if self._locks is not None:
            self._locks.release()  # after the rollback: nobody slips in between a step and its undo
        if self._writer is not None:
            if self._lazy is not None and not self._acted:
                self._discard_journal()
            else:
                self._writer.close()
        self._open = False

    def _discard_journal(self) -> None:
        """Remove a lazily made journal whose steps did nothing (each was refused before any mutating command ran):
        no job, nothing to roll back, so no file. Removed while its lock is held, so no reader sees it half-gone."""
        from .journal import fsync_dir

        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.path.unlink()
            fsync_dir(writer.path.parent)
        except OSError:
            pass  # left as it is: a journal that says the block ended, which prune removes in time
        finally:
            writer.close()

    # --- calling operations ---------------------------------------------------------------------------------------
    def __getattr__(self, domain: str) -> _DomainProxy:
        if domain.startswith("_"):
            raise AttributeError(domain)
        from .entrypoints import canonical_name

        domain = canonical_name(domain)
        if domain not in self.registry.domains():
            raise AttributeError(f"no plugin registered operations for {domain!r} (see 'bofh plugins')")
        return _DomainProxy(self, domain)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap an operation function so calling it records a step of this block."""
        if spec_of(func) is None:
            raise ValidationError(
                f"{getattr(func, '__name__', func)!r} is not a pybofh operation; use AtomicOperationSequence"
            )

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self._open:
                raise PybofhError("the atomic block is not open (use 'with Atomic() as atomic:')")
            with recording.recording(self):
                return func(*args, **kwargs)

        return call

    def created_here(self, target: Any) -> bool:
        """Whether ``target`` names something this block (or an enclosing one) created."""
        if target is None:
            return False
        block: Atomic | None = self
        while block is not None:
            if any(same_object(str(target), c) for c in block.created):
                return True
            block = block._outer
        return False

    def _ground(self) -> set[str]:
        """Lock keys of what this block's journal lives on: its mountpoint, the device mounted there and every
        device under that one (LUKS, LV, PV, loop…), read on this machine (the journal is always local)."""
        block: Atomic | None = self
        while block is not None and block._writer is None and block._lazy is None:
            block = block._outer
        if block is None:
            return set()
        if block._ground_keys is None:
            directory = block._writer.path.parent if block._writer else block._lazy.dir  # type: ignore[union-attr]
            block._ground_keys = journal_ground(directory)
        return block._ground_keys

    def check_ground(self, spec: OperationSpec, bound: dict[str, Any], keys: list[str] | None = None) -> None:
        """Refuse a step that would take away the journal's ground (no force: the rollback needs the journal).
        ``keys``: the step's lock keys, when the caller has them already."""
        if self.dry_run:
            return
        ground = self._ground()
        hit = sorted(ground & set(keys if keys is not None else self._lock_keys(spec, bound, get_runner())))
        if hit and spec.takes_away_ground(bound):
            raise JournalGroundError(
                f"{spec.qualname} would take away {hit[0].split(':', 1)[1]}, which holds this job's journal "
                f"directory; move the journal (core.journal_dir) first"
            )

    def _enclosing_locks(self) -> list[ObjectLocks]:
        out = []
        block = self._outer
        while block is not None:
            if block._locks is not None:
                out.append(block._locks)
            block = block._outer
        return out

    @staticmethod
    def _lock_keys(spec: OperationSpec, bound: dict[str, Any], runner: Runner) -> list[str]:
        """The lock keys of a step: its objects, paths resolved, prefixed by the host its commands run on."""
        from .validate import validate_path

        where = runner.describe().get("host") or "local"
        keys = []
        for key in spec.lock_keys(bound):
            try:  # bad input is the operation's to refuse (a typed error, before any command): it locks nothing
                key.encode("utf-8")
                if key.startswith("/"):
                    key = runner.realpath(validate_path(key, allow_special=True))
            except (PybofhError, OSError, ValueError):
                continue
            keys.append(f"{where}:{key}")
        return keys

    def check_irreversible(self, spec: OperationSpec, bound: dict[str, Any]) -> None:
        """Refuse an irreversible operation unless its target was created by this block (or an outer one)."""
        if self.allow_irreversible:
            return
        if spec.target is not None:
            if self.created_here(target_of(spec, bound)):
                return
            raise refuse_irreversible(spec, bound, "its target was not created in this atomic block")
        raise refuse_irreversible(spec, bound, "it is not allowed inside an atomic block")

    def record(
        self, spec: OperationSpec, wrapper: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run one operation as a journalled step (called by the operation wrapper while this block records).

        Order: arguments bound, irreversibility and data checks (nothing journalled for a refused call), the
        ``step`` record, the operation (an undo it announces with ``undo_ahead`` is journalled before its command),
        the ``done`` record with the undo. Signals that arrive once the step changed something wait until its
        outcome is journalled; a journal that cannot be written stops the block, which undoes what finished.
        """
        if self._dry is not None and not get_runner().dry_run:
            # a runner set inside a dry-run block (``use_runner(...)`` in its body) is planned on too: its mutating
            # commands join the block's plan, on the block's model, instead of running
            planner = DryRunRunner(get_runner(), model=self._dry.model)
            planner.plan = self._dry.plan
            with use_runner(planner):
                return self.record(spec, wrapper, args, kwargs)
        if spec.domain is None:  # imported directly (a layer's resize_lv): its domain names the step
            ensure_registered(spec, self.registry)
        try:
            bound = bind(spec, args, kwargs)
        except TypeError as exc:
            raise ValidationError(f"{spec.qualname}: {exc}") from None
        if spec.irreversible:
            self.check_irreversible(spec, bound)
        data_check(spec, args, kwargs)
        runner = get_runner()
        if self._locks is not None:  # a real run (a dry run neither locks nor takes anything away)
            keys = self._lock_keys(spec, bound, runner)
            if spec.irreversible or spec.takes_away:
                self.check_ground(spec, bound, keys)
            self._locks.acquire(keys, outer=self._enclosing_locks())
        if self._lazy is not None and self._writer is None:
            self._writer = self._lazy.create(self.label)  # the first step: nothing has run yet if this fails
        self._counter += 1
        index = self._counter
        if self._writer:
            self._writer.append(
                {
                    "type": "step",
                    "step": index,
                    "op": spec.qualname,
                    "args": redacted_args(bound),
                    "runner": runner.describe(),
                    "kind": _undo_kind(spec),
                }
            )
        plan_start = len(self._dry.plan) if self._dry else 0
        first_inner = len(self.steps)
        ahead: list[Undo] = []

        def announce(u: Undo) -> None:
            ahead.append(u)
            if self._writer:
                self._writer.append({"type": "ahead", "step": index, "undo": u.to_json(self.registry)})

        with signals.step_scope() as scope, record_commands() as ran:
            try:
                with recording.in_step(self if spec.composite else None, None if spec.composite else announce):
                    result = apply_effects(spec, spec.func(*args, **kwargs), args, kwargs)
                    undo = spec.undo_for(result, bound)
            except BaseException as exc:
                try:
                    self._step_failed(spec, index, bound, runner, ahead, exc, first_inner,
                                      [] if spec.composite else ran)
                finally:
                    scope.release(raise_pending=False)  # the block's rollback hears about a deferred signal
                raise
            step = Step(index, spec, bound, runner, undo)
            if not spec.composite:  # a composite's commands belong to its inner steps (planned or run)
                step.commands = self._dry.plan[plan_start:] if self._dry else list(ran)
            if spec.creates is not None and result is not None:
                self.created.extend(str(p) for p in spec.creates(result))
            self.steps.append(step)  # memory first: it is what a rollback undoes, whatever the disk says
            self._acted = True
            try:
                if self._writer:
                    self._writer.append(_done_record(step, self.registry))
            finally:
                scope.release(raise_pending=False)
        self._emit("step-done", step)
        late = signals.pending() if signals.active() and not self.dry_run else None
        if late is not None:
            raise signals.Interrupted(late)
        return result

    def _step_failed(
        self, spec: OperationSpec, index: int, bound: dict[str, Any], runner: Runner, ahead: list[Undo],
        exc: BaseException, first_inner: int, ran: list[PlannedCommand],
    ) -> None:
        """Record a failed step; keep its write-ahead undo (its effect may be there); undo a composite's parts."""
        if ran or ahead:
            self._acted = True  # it may have changed something: its journal stays, whatever the rollback finds
        if self._writer:
            failed: dict[str, Any] = {"type": "failed", "step": index, "error": scrub(str(exc))}
            if ran:
                failed["commands"] = [str(c) for c in ran]
            self._writer.note(failed)
        step = Step(index, spec, bound, runner, ahead[-1] if ahead else None, uncertain=bool(ahead))
        self._emit("step-failed", step)
        if spec.composite and len(self.steps) > first_inner:
            inner = self.steps[first_inner:]
            del self.steps[first_inner:]
            self._undo_steps(inner, exc, f"{spec.qualname} failed and its finished parts were undone")
            undone = sum(1 for s in inner if s.undo is not None)
            if undone:
                exc.add_note(f"pybofh: rolled back {undone} step(s) of {spec.qualname}")
        if step.uncertain:
            self.steps.append(step)

    @property
    def steps_started(self) -> int:
        """How many steps this block began (0: nothing ran, whatever failed happened before the first step)."""
        return self._counter

    # --- the end of the block ------------------------------------------------------------------------------------
    def _commit(self) -> None:
        if self._dry:
            self._plan_undos()
        # A real inner block's steps are undone by the outer one too (journalled there before this block says
        # "commit": a kill in between leaves them in both journals, and undos are idempotent); a planned one's
        # steps join the outer plan.
        into = None
        if self._outer is not None and self._outer._open and (not self.dry_run or self._outer.dry_run):
            self._outer._adopt(self.steps, self.created)
            into = self._outer.journal_id
        if self._writer:
            self._writer.append({"type": "commit", "into": into} if into else {"type": "commit"})
        self._emit("commit", None)

    def _adopt(self, steps: list[Step], created: list[str]) -> None:
        """Take over a committed inner block's steps, so this block undoes them too if it fails later."""
        if steps and self._lazy is not None and self._writer is None:
            self._writer = self._lazy.create(self.label)  # adopted steps are this block's first
        for step in steps:
            self._acted = True
            self._counter += 1
            step.index = self._counter
            if self._writer:
                self._writer.append(
                    {
                        "type": "step",
                        "step": step.index,
                        "op": step.spec.qualname,
                        "args": redacted_args(step.bound),
                        "runner": step.runner.describe(),
                        "kind": _undo_kind(step.spec),
                    }
                )
                self._writer.append(_done_record(step, self.registry))
            self.steps.append(step)
        self.created.extend(created)

    def rollback(self, cause: BaseException | None = None) -> None:
        """Undo every recorded step, newest first, continuing past failures; raise RollbackError if any failed or
        was left alone (the journal then says ``needs-attention``). Signals during the rollback do not cut it short.
        """
        if self._writer:
            self._writer.note({"type": "rollback_start", "pid": os.getpid()})
        steps, self.steps = self.steps, []
        try:
            with signals.defer(raise_pending=False):
                self._undo_steps(steps, cause, "rollback incomplete")
        except RollbackError:
            if self._writer:
                self._writer.note({"type": "rollback_end", "ok": False, "status": "needs-attention"})
            raise
        if self._writer:
            self._writer.note({"type": "rollback_end", "ok": True, "status": "rolled-back"})
        undone = sum(1 for s in steps if s.undo is not None)
        if cause is not None and undone:
            broken = self._writer.broken if self._writer else None
            cause.add_note(
                f"pybofh: rolled back {undone} step(s)" + (f" (journal {self.journal_id})" if self.journal_id else "")
                + (f"; the journal could not be written ({broken})" if broken else "")
            )

    def _emit(self, event: str, step: Step | None) -> None:
        """Tell plugins about an event (only if plugins were loaded; never triggers discovery)."""
        from .session import peek_plugins

        host = peek_plugins()
        if host is not None and not self.dry_run:
            info = {"step": step.index, "op": step.spec.qualname, "args": redacted_args(step.bound)} if step else {}
            host.emit(event, self.journal_id, info)

    def _undo_steps(self, steps: list[Step], cause: BaseException | None, what: str) -> None:
        """Undo ``steps`` newest first through ``perform()`` (identity, then the call)."""
        from .journal import outcome_record

        failures: list[Exception] = []
        left: list[int] = []

        def pending() -> Iterator[PendingUndo]:
            for step in reversed(steps):
                if step.undo is not None:
                    u = step.undo
                    yield PendingUndo(step.index, u.func, u.args, u.kwargs, u.identity, step.runner, source=step)

        def settle(item: PendingUndo, outcome: Outcome) -> None:
            step: Step = item.source
            step.outcome = outcome
            self.outcomes.append((step, outcome))
            if self._writer:
                self._writer.note(outcome_record(step.index, outcome))
            if outcome.state == "failed":
                err = outcome.error if isinstance(outcome.error, Exception) else PybofhError(outcome.detail)
                err.add_note(f"while undoing step {step.index}: {step.describe()}")
                failures.append(err)
                self._emit("undo-failed", step)
            elif outcome.state == "left-alone":
                left.append(step.index)
                failures.append(IdentityMismatchError(
                    f"step {step.index} {step.spec.qualname}: {outcome.detail}; left alone"))
                self._emit("undo-failed", step)
            else:
                self._emit("undone", step)

        undo_newest_first(pending(), settle)
        _raise_rollback(failures, cause, what, len(left))

    # --- dry run --------------------------------------------------------------------------------------------------
    def _plan_undos(self) -> None:
        """Plan each step's undo, newest first, on the state the planned steps leave (a copy of the plan's model,
        which each planned undo changes in turn), as a rollback of the whole block would run them."""
        model = self._dry.model.copy() if self._dry is not None else None
        checked = False  # as in a rollback: once a newer undo keeps its step (StepKeptError), older ones run checked
        for step in reversed(self.steps):
            if step.undo is None:
                continue
            inner = step.runner.inner if isinstance(step.runner, DryRunRunner) else step.runner
            recorder = DryRunRunner(inner, model=model)
            u = step.undo
            step.outcome = perform(u.func, u.args, u.kwargs, None, recorder, checked=checked)
            step.undo_commands = list(recorder.plan)
            checked = checked or isinstance(step.outcome.error, StepKeptError)

    @property
    def plan(self) -> list[dict[str, Any]]:
        """For a dry run: each step with the commands it would run, its undo and the undo's commands."""
        return [
            {
                "step": s.index,
                "op": s.spec.qualname,
                "args": redacted_args(s.bound),
                "operation": s.describe(),
                "commands": [str(c) for c in s.commands],
                "undo": s.undo.describe() if s.undo else None,
                "undo_commands": [str(c) for c in s.undo_commands],
                "undo_note": _undo_note(s),
                "irreversible": s.spec.irreversible,
            }
            for s in self.steps
        ]

    def format_plan(self) -> str:
        """The dry-run plan as text: each step's commands, then its undo."""
        lines = []
        for item in self.plan:
            lines.append(f"{item['step']}. {item['operation']}")
            lines += [f"     $ {c}" for c in item["commands"]]
            if item["undo"]:
                lines.append(f"   undo: {item['undo']}")
                lines += [f"     $ {c}" for c in item["undo_commands"]]
                if item["undo_note"]:
                    lines.append(f"     ({item['undo_note']})")
            elif item["irreversible"]:
                lines.append(f"   undo: none (irreversible: {item['irreversible']})")
        return "\n".join(lines)


def _done_record(step: Step, registry: OperationRegistry) -> dict[str, Any]:
    """The journal record of a finished step: its undo, and the mutating commands it ran (if any)."""
    rec: dict[str, Any] = {"type": "done", "step": step.index,
                           "undo": step.undo.to_json(registry) if step.undo else None}
    if step.commands:
        rec["commands"] = [str(c) for c in step.commands]
    return rec


def _undo_note(step: Step) -> str | None:
    """Why a planned undo lists no commands: the object it acts on exists only once the run made it."""
    outcome = step.outcome
    if step.undo is None or outcome is None or step.undo_commands:
        return None
    if outcome.state == "undone":
        return "nothing to run"
    if isinstance(outcome.error, StepKeptError):
        return f"kept: {outcome.detail}"
    detail = f": {outcome.detail}" if outcome.detail else ""
    return f"its commands are known only once the run has made what it undoes; now{detail}"


def journal_ground(directory: Any) -> set[str]:
    """Lock keys (``local:PATH``) of the mountpoint holding ``directory`` and of the devices it sits on."""
    from .runner import LocalRunner

    local = LocalRunner()
    keys: set[str] = set()
    try:
        found = local.run(["findmnt", "-n", "-o", "SOURCE,TARGET", "-T", str(directory)], readonly=True,
                          check=False).text.split()
    except PybofhError:
        return keys
    if len(found) < 2:
        return keys
    source, target = found[0], found[1]
    keys.add(f"local:{target}")
    source = source.split("[", 1)[0]  # a btrfs subvolume mount: /dev/sdX[/@root]
    if source.startswith("/dev/"):
        res = local.run(["lsblk", "-s", "-n", "-l", "-o", "PATH", "--", source], readonly=True, check=False)
        for dev in [source, *res.text.split()]:
            keys.add(f"local:{local.realpath(dev)}")
    return keys


def _undo_kind(spec: OperationSpec) -> str:
    """How a step's effect is undone, for the journal: by an inverse, not at all (irreversible), or not needed."""
    if spec.composite:
        return "composite"
    if spec.inverse is not None:
        return "inverse"
    if spec.irreversible is not None:
        return "irreversible"
    return "no_undo"


__all__ = ["Atomic", "AtomicOperationSequence", "IrreversibleOperationError", "RollbackError"]
