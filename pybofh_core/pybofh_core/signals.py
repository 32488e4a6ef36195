"""SIGINT, SIGTERM and SIGHUP while pybofh changes the system: never cut a step or a rollback in half.

Three scopes cooperate (all no-ops outside the main thread, where Python cannot install signal handlers):

* :func:`guard` — an atomic block is open: a signal raises :class:`Interrupted`, so the block rolls back.
* :func:`defer` — a mutating command runs, a step has changed something and is not journalled yet, or a rollback
  runs: a signal is only recorded. When the outermost deferral ends, the first recorded signal is raised as
  :class:`Interrupted` (inside a guard) or re-delivered to the handler that was there before pybofh's.
* :func:`pending` — a recorded signal not raised yet (an atomic block asks after its rollback).

The CLI exits with ``128 + signum`` after such an interruption.
"""

from __future__ import annotations

import contextlib
import contextvars
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM or SIGHUP) interrupted pybofh; ``signum`` says which. Exit code ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """The conventional exit status of a process ended by this signal."""
        return 128 + self.signum


_guard_depth = 0
_defer_depth = 0
_pending: list[int] = []
_saved: dict[int, Any] = {}


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _handler(signum: int, _frame: FrameType | None) -> None:
    if _defer_depth:
        _pending.append(signum)
        return
    if _guard_depth:
        raise Interrupted(signum)
    _pending.append(signum)  # between scopes (should not happen): keep it for re-delivery


def _install() -> None:
    for sig in SIGNALS:
        _saved[sig] = signal.signal(sig, _handler)


def _uninstall() -> None:
    for sig, old in _saved.items():
        signal.signal(sig, old if old is not None else signal.SIG_DFL)
    _saved.clear()


def _enter() -> None:
    if _guard_depth + _defer_depth == 0:
        _install()


def _leave_maybe_redeliver() -> None:
    """Restore the previous handlers when no scope is left, and hand them a signal nobody consumed."""
    if _guard_depth + _defer_depth:
        return
    _uninstall()
    if _pending:
        signum = _pending[0]
        _pending.clear()
        signal.raise_signal(signum)  # the previous handler decides (KeyboardInterrupt, termination…)


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """While open, SIGINT/SIGTERM/SIGHUP raise :class:`Interrupted` (unless deferred)."""
    global _guard_depth
    if not _in_main_thread():
        yield
        return
    _enter()
    _guard_depth += 1
    try:
        yield
    finally:
        _guard_depth -= 1
        _leave_maybe_redeliver()


@contextlib.contextmanager
def defer(*, raise_pending: bool = True) -> Iterator[None]:
    """Record signals instead of acting on them; at the end raise the first one (``raise_pending``) if no outer
    deferral is still open and no exception is already on its way."""
    if not _in_main_thread():
        yield
        return
    enter_deferral()
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        exit_deferral(raise_pending=raise_pending and not failed)


def enter_deferral() -> None:
    """Start a deferral that is ended by :func:`exit_deferral` (for scopes that are not a ``with`` block)."""
    global _defer_depth
    if not _in_main_thread():
        return
    _enter()
    _defer_depth += 1


def exit_deferral(*, raise_pending: bool = True) -> None:
    """End a deferral; raise :class:`Interrupted` for a recorded signal when this was the outermost one."""
    global _defer_depth
    if not _in_main_thread():
        return
    _defer_depth -= 1
    if _defer_depth == 0 and _guard_depth and _pending and raise_pending:
        signum = _pending[0]
        _pending.clear()
        raise Interrupted(signum)
    _leave_maybe_redeliver()


def pending() -> int | None:
    """The first recorded but not yet raised signal, if any (and forget it)."""
    if not _pending:
        return None
    signum = _pending[0]
    _pending.clear()
    return signum


def active() -> bool:
    """Whether pybofh's handlers are installed (a guard or a deferral is open in the main thread)."""
    return bool(_guard_depth + _defer_depth)


class StepScope:
    """One atomic step in progress: once it runs a mutating command, signals wait until the step is journalled."""

    __slots__ = ("deferred",)

    def __init__(self) -> None:
        self.deferred = False

    def release(self, *, raise_pending: bool = True) -> None:
        """End the step's deferral (after its outcome is journalled); may raise :class:`Interrupted`."""
        if self.deferred:
            self.deferred = False
            exit_deferral(raise_pending=raise_pending)


_step: contextvars.ContextVar[StepScope | None] = contextvars.ContextVar("pybofh_step_scope", default=None)


@contextlib.contextmanager
def step_scope() -> Iterator[StepScope]:
    """Mark the code of one recorded step; the caller calls ``release()`` once the step's outcome is on disk."""
    scope = StepScope()
    token = _step.set(scope)
    try:
        yield scope
    finally:
        _step.reset(token)


def mutating() -> contextlib.AbstractContextManager[None]:
    """Wrap a mutating command: inside a step, defer signals until the step is journalled; else for the command."""
    scope = _step.get()
    if scope is not None:
        if not scope.deferred and _in_main_thread():
            enter_deferral()
            scope.deferred = True
        return contextlib.nullcontext()
    return defer()
