"""The recorder protocol: the context an operation call runs in, set by atomic blocks and read by operations.

An operation's wrapper asks this module one question before it runs: *where am I?* Called directly (nothing
records), under a ``Recorder`` (an atomic block, or the CLI's block that opens on the first step: the call
becomes a journalled step), inside a step (an operation that another operation's body calls belongs to that step),
or as an undo (its object was identified: data checks do not apply). Atomic blocks, the rollback and the CLI set
that context through the context managers here; neither side calls the other's private names, and this module
imports nothing of pybofh but the types it names.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .operations import OperationSpec, Undo


class Recorder(Protocol):
    """What records operation calls as steps: an atomic block, or the CLI's block that opens with the first step."""

    def record(self, spec: OperationSpec, call: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
        """Run ``spec``'s call (``call`` is the operation's wrapper) as one step and return its result."""
        ...


class Block(Protocol):
    """The open atomic block as the checks of an operation called in it see it."""

    def created_here(self, target: Any) -> bool:
        """Whether ``target`` names something this block (or an enclosing one) created."""
        ...

    def check_irreversible(self, spec: OperationSpec, bound: dict[str, Any]) -> None:
        """Refuse an irreversible operation on something the block did not create (unless it allows them)."""
        ...

    def check_ground(self, spec: OperationSpec, bound: dict[str, Any]) -> None:
        """Refuse a step that would take away what the block's journal lives on."""
        ...


#: The recorder value meaning "inside a recorded step": operations called there belong to the step.
INSIDE_STEP: Any = object()

_recorder: contextvars.ContextVar[Any] = contextvars.ContextVar("pybofh_recorder", default=None)
_block: contextvars.ContextVar[Block | None] = contextvars.ContextVar("pybofh_block", default=None)
# Where an undo known before its step's command goes (set by the atomic block while it runs a step).
_ahead: contextvars.ContextVar[Callable[[Undo], None] | None] = contextvars.ContextVar("pybofh_ahead", default=None)
# True while an undo runs: its object was identified, so data checks (what force overrides) do not apply.
_undoing: contextvars.ContextVar[bool] = contextvars.ContextVar("pybofh_undoing", default=False)
# True while an undo runs after a newer step of the same rollback was not undone (failed, left alone, unknown): what
# that step left may now be inside this undo's object, so its data checks apply again.
_undo_checked: contextvars.ContextVar[bool] = contextvars.ContextVar("pybofh_undo_checked", default=False)
# The identity the running undo was checked against.
_expected: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar("pybofh_expected", default=None)


def recorder() -> Recorder | None:
    """The recorder an operation called now records into (None: called directly, or inside a step)."""
    current = _recorder.get()
    return None if current is INSIDE_STEP else current


def inside_step() -> bool:
    """Whether the code runs inside a recorded step or an undo (operations it calls are not steps of their own)."""
    return _recorder.get() is INSIDE_STEP


def current_block() -> Block | None:
    """The innermost atomic block open in this context, or None."""
    return _block.get()


def undoing() -> bool:
    """Whether the code runs as an undo (identity checked; data checks do not apply)."""
    return _undoing.get()


def undo_checked() -> bool:
    """Whether the running undo's data checks apply again (a newer step of its rollback was not undone)."""
    return _undo_checked.get()


def expected_identity() -> Mapping[str, Any]:
    """The identity the running undo's object was recorded with (empty outside an undo, or when none was): for an
    undo that must reach its object another way (reopening what a restart closed) and check it there."""
    return _expected.get() or {}


def announce(u: Undo) -> None:
    """Hand ``u`` to the running step as its write-ahead undo (nothing outside a step)."""
    sink = _ahead.get()
    if sink is not None:
        sink(u)


def announcing() -> bool:
    """Whether a running step takes write-ahead undos (so building one is worth its reads)."""
    return _ahead.get() is not None


@contextlib.contextmanager
def recording(into: Recorder | None) -> Iterator[None]:
    """Record the operations called in the ``with`` body into ``into`` (None: they run directly)."""
    token = _recorder.set(into)
    try:
        yield
    finally:
        _recorder.reset(token)


@contextlib.contextmanager
def in_step(inner: Recorder | None, sink: Callable[[Undo], None] | None) -> Iterator[None]:
    """The body of one step: operations it calls record into ``inner`` (a composite's block) or belong to the step
    (None); ``sink`` takes the step's write-ahead undos (None: a composite's steps announce their own)."""
    tokens = (_recorder.set(INSIDE_STEP if inner is None else inner), _ahead.set(sink))
    try:
        yield
    finally:
        _ahead.reset(tokens[1])
        _recorder.reset(tokens[0])


@contextlib.contextmanager
def as_undo(identity: Mapping[str, Any] | None, *, checked: bool) -> Iterator[None]:
    """The body of one undo: its object was identified as ``identity`` (data checks apply only when ``checked``),
    and what it calls belongs to it."""
    tokens = (_undoing.set(True), _recorder.set(INSIDE_STEP), _undo_checked.set(checked), _expected.set(identity))
    try:
        yield
    finally:
        _expected.reset(tokens[3])
        _undo_checked.reset(tokens[2])
        _recorder.reset(tokens[1])
        _undoing.reset(tokens[0])


@contextlib.contextmanager
def opened(block: Block) -> Iterator[None]:
    """``block`` is the innermost open atomic block in the ``with`` body."""
    token = _block.set(block)
    try:
        yield
    finally:
        _block.reset(token)


__all__ = ["INSIDE_STEP", "Block", "Recorder", "announce", "announcing", "as_undo", "current_block",
           "expected_identity", "in_step", "inside_step", "opened", "recorder", "recording", "undo_checked",
           "undoing"]
