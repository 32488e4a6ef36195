"""Undoing, however it is reached — an atomic block rolling back in-process, or ``bofh journal rollback`` replaying
a journal in a new process: one loop (``undo_newest_first``) over the steps' undos, and for each undo
(``perform``) the identity of its object checked, then the undo operation run.

Outcomes: ``undone``; ``already`` (the object is gone or already as the undo leaves it — recorded as undone, not a
failure); ``left-alone`` (another object is there now; reported, the journal needs attention); ``failed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import DataAtRiskError, KeyNeededError, NotFoundError
from .operations import bind, spec_of
from .recording import as_undo
from .runner import Runner, record_commands, use_runner
from .secret import scrub

State = Literal["undone", "already", "left-alone", "failed"]


@dataclass
class Outcome:
    """What one undo did."""

    state: State
    detail: str = ""
    error: BaseException | None = None
    #: the mutating commands the undo ran (or, on a dry-run runner, would run), for the journal and plans
    commands: list[str] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """Whether the step's effect is gone now (undone, or already undone)."""
        return self.state in ("undone", "already")


def perform(
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    identity: Mapping[str, Any] | None,
    runner: Runner,
    *,
    checked: bool = False,
) -> Outcome:
    """Run one undo on ``runner``: its operation's ``identify`` first (when an identity was recorded), then the call.

    A ``NotFoundError`` from the undo means its object is gone: already undone (undos are idempotent); a missing
    key (``KeyNeededError``) is a failure. ``checked``: a newer step of this rollback was not undone, so the undo's
    data checks run (a shrink back must not cut what that step left, a removal must not destroy data).
    """
    with record_commands() as ran:
        outcome = _perform(func, args, kwargs, identity, runner, checked)
    outcome.commands = [str(c) for c in ran]
    return outcome


def _perform(
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    identity: Mapping[str, Any] | None,
    runner: Runner,
    checked: bool,
) -> Outcome:
    """The body of ``perform`` (its commands are being recorded)."""
    spec = spec_of(func)
    with as_undo(identity, checked=checked), use_runner(runner):
        if identity is not None and spec is not None and spec.identify is not None:
            try:
                verdict = spec.identify(bind(spec, tuple(args), kwargs), identity)
            except KeyNeededError as exc:
                return Outcome("failed", scrub(str(exc)), exc)
            except NotFoundError as exc:
                return Outcome("already", scrub(str(exc)))
            except Exception as exc:  # noqa: BLE001 - reported as this undo's failure
                return Outcome("failed", f"identity check failed: {scrub(str(exc))}", exc)
            if verdict.action == "already":
                return Outcome("already", verdict.detail)
            if verdict.action == "other":
                return Outcome("left-alone", verdict.detail)
        try:
            func(*args, **dict(kwargs))
        except KeyNeededError as exc:
            return Outcome("failed", scrub(str(exc)), exc)
        except NotFoundError as exc:
            return Outcome("already", scrub(str(exc)))
        except DataAtRiskError as exc:
            why = DataAtRiskError(f"{exc} (checked because a newer step of this job was not undone)")
            why.__cause__ = exc
            return Outcome("failed", scrub(str(why)), why)
        except Exception as exc:  # noqa: BLE001 - reported as this undo's failure
            return Outcome("failed", scrub(str(exc)), exc)
        return Outcome("undone")


@dataclass
class PendingUndo:
    """One step's undo waiting in a rollback: the call to make, or (``refused``) why it cannot be made."""

    step: int
    func: Callable[..., Any] | None = None
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    identity: Mapping[str, Any] | None = None
    runner: Runner | None = None
    refused: Outcome | None = None
    #: the caller's own record of the step (an atomic block's Step, a journal's StepState)
    source: Any = None


def undo_newest_first(pending: Iterable[PendingUndo], on_outcome: Callable[[PendingUndo, Outcome], None], *,
                      unsettled: Iterable[int] = ()) -> None:
    """The one rollback loop: perform each undo of ``pending`` (newest first) and hand its outcome to
    ``on_outcome``, continuing past failures. Once a newer step is not undone — it failed or was left alone here,
    or is in ``unsettled`` (steps the caller knows were not undone: left alone earlier, outcome unknown) — what it
    left may be inside the objects of older steps, so their undos run with their data checks."""
    known = set(unsettled)
    not_undone_here = False
    for item in pending:
        if item.refused is not None:
            outcome = item.refused
        else:
            assert item.func is not None and item.runner is not None, "a pending undo has a call or a refusal"
            checked = not_undone_here or any(n > item.step for n in known)
            outcome = perform(item.func, item.args, item.kwargs, item.identity, item.runner, checked=checked)
        not_undone_here = not_undone_here or not outcome.settled
        on_outcome(item, outcome)


__all__ = ["Outcome", "PendingUndo", "perform", "undo_newest_first"]
