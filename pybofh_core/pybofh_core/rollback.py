"""One undo, however it is reached — an atomic block rolling back in-process, or ``bofh journal rollback`` replaying
a journal in a new process: check the identity of the object, then run the undo operation.

Outcomes: ``undone``; ``already`` (the object is gone or already as the undo leaves it — recorded as undone, not a
failure); ``left-alone`` (another object is there now; reported, the journal needs attention); ``failed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import DataAtRiskError, KeyNeededError, NotFoundError
from .operations import INSIDE_STEP, _expected, _recorder, _undo_checked, _undoing, bind, spec_of
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
    """The body of :func:`perform` (its commands are being recorded)."""
    spec = spec_of(func)
    tokens = (_undoing.set(True), _recorder.set(INSIDE_STEP), _undo_checked.set(checked), _expected.set(identity))
    try:
        with use_runner(runner):
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
    finally:
        _expected.reset(tokens[3])
        _undo_checked.reset(tokens[2])
        _recorder.reset(tokens[1])
        _undoing.reset(tokens[0])


__all__ = ["Outcome", "perform"]
