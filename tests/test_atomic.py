"""The atomic engine: order, completeness and error reporting of rollback, checked with random sequences."""

from __future__ import annotations

import contextlib
import io
import textwrap
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybofh_core import operation, undo
from pybofh_core.atomic import Atomic, AtomicOperationSequence
from pybofh_core.errors import IrreversibleOperationError, PybofhError, RollbackError, ValidationError
from pybofh_core.journal import Journal, iter_records
from pybofh_core.operations import OperationRegistry
from pybofh_core.runner import FakeRunner, use_runner
from pybofh_core.session import journal as session_journal


class Boom(Exception):
    """The failure injected into a step."""


class UndoBoom(Exception):
    """The failure injected into an undo."""


def make_domain() -> tuple[OperationRegistry, types.SimpleNamespace]:
    """A registry with domain ``t``: ``make(i, fail, undo_fails)`` ↔ ``unmake(i, undo_fails)`` recording into a log."""
    log: list[tuple[str, int]] = []

    @operation(inverse=lambda res, i, undo_fails: undo(unmake, i, undo_fails), creates=lambda res: [f"/r/{res}"])
    def make(i: int, fail: bool = False, undo_fails: bool = False) -> int:
        if fail:
            log.append(("fail", i))
            raise Boom(f"step {i} failed")
        log.append(("make", i))
        return i

    @operation(irreversible="removes the resource", target="path")
    def destroy(path: str) -> None:
        log.append(("destroy", int(path.rsplit("/", 1)[1])))

    @operation(inverse=None, irreversible=None, composite=True)
    def make_two(i: int, fail_second: bool = False) -> None:
        make(i)
        make(i + 1, fail=fail_second)

    @operation(irreversible="test undo")
    def unmake(i: int, undo_fails: bool = False) -> None:
        log.append(("unmake", i))
        if undo_fails:
            raise UndoBoom(f"undo {i} failed")

    registry = OperationRegistry()
    registry.add_module("t", module_of("t_ops", make, destroy, make_two, unmake))
    return registry, types.SimpleNamespace(log=log, make=make, destroy=destroy, make_two=make_two, unmake=unmake)


def module_of(name: str, *funcs: object) -> types.ModuleType:
    """Put operation functions defined in a test into a module, as a plugin's ``ops`` would be."""
    mod = types.ModuleType(name)
    for f in funcs:
        f.__pybofh_operation__.func.__module__ = name  # type: ignore[attr-defined]
        setattr(mod, f.__name__, f)  # type: ignore[attr-defined]
    return mod


step_kinds = st.lists(
    st.tuples(st.sampled_from(["ok", "ok", "ok", "caught", "uncaught"]), st.booleans()), min_size=0, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(step_kinds)
def test_rollback_order_completeness_and_errors(tmp_path_factory: pytest.TempPathFactory, steps: list) -> None:
    """Random steps, a failure injected anywhere, failing undos: undone newest-first, all attempted, errors grouped."""
    registry, t = make_domain()
    journal = Journal(tmp_path_factory.mktemp("j"))
    done: list[int] = []
    raised: BaseException | None = None
    try:
        with Atomic(registry=registry, journal=journal) as atomic:
            for i, (kind, undo_fails) in enumerate(steps):
                if kind == "ok":
                    atomic.t.make(i, undo_fails=undo_fails)
                    done.append(i)
                elif kind == "caught":
                    with pytest.raises(Boom):
                        atomic.t.make(i, fail=True)
                else:
                    atomic.t.make(i, fail=True)
    except BaseException as exc:
        raised = exc

    first_uncaught = next((i for i, (k, _) in enumerate(steps) if k == "uncaught"), None)
    undos = [i for kind, i in t.log if kind == "unmake"]
    if first_uncaught is None:
        assert raised is None
        assert undos == []
        state = journal.list()[0]
        assert state.status == "committed"
        return
    assert undos == list(reversed(done)), "every finished step is undone, newest first"
    failing = [i for i in reversed(done) if steps[i][1]]
    if failing:
        assert isinstance(raised, RollbackError)
        assert [str(e) for e in raised.exceptions] == [f"undo {i} failed" for i in failing]
        assert isinstance(raised.__cause__, Boom) and str(raised.__cause__) == f"step {first_uncaught} failed"
        assert journal.list()[0].status == "needs-attention"
    else:
        assert isinstance(raised, Boom) and str(raised) == f"step {first_uncaught} failed"
        assert journal.list()[0].status == "rolled-back"
    states = {s.step: s.state for s in journal.list()[0].steps}
    assert sorted(states.values()).count("failed") == sum(
        1 for k, _ in steps[: first_uncaught + 1] if k in ("caught", "uncaught")
    )


def test_caught_failure_does_not_poison_block(journal_dir: Path) -> None:
    """A failure the caller catches leaves the block usable, and a later success commits everything."""
    registry, t = make_domain()
    with Atomic(registry=registry) as atomic:
        atomic.t.make(1)
        with pytest.raises(Boom):
            atomic.t.make(2, fail=True)
        atomic.t.make(3)
    assert t.log == [("make", 1), ("fail", 2), ("make", 3)]


def test_rollback_note_names_journal(journal_dir: Path) -> None:
    """The original error carries a note saying how many steps were rolled back and in which journal."""
    registry, _ = make_domain()
    with pytest.raises(Boom) as info:
        with Atomic(registry=registry) as atomic:
            atomic.t.make(1)
            atomic.t.make(2, fail=True)
    assert any("rolled back 1 step(s)" in n and atomic.journal_id in n for n in info.value.__notes__)


def test_irreversible_refused_unless_created_in_block(journal_dir: Path) -> None:
    """An irreversible op runs on what the block created, is refused elsewhere, and allowed when asked."""
    registry, t = make_domain()
    with Atomic(registry=registry) as atomic:
        atomic.t.make(7)
        t.destroy("/r/7")  # called directly, not through the proxy: still policed, and allowed
        with pytest.raises(IrreversibleOperationError, match="not created in this atomic block"):
            t.destroy("/r/8")
        with pytest.raises(IrreversibleOperationError):
            atomic.t.destroy("/r/9")
    assert ("destroy", 7) in t.log and ("destroy", 8) not in t.log
    with Atomic(registry=registry, allow_irreversible=True) as atomic:
        atomic.t.destroy("/r/9")
    assert ("destroy", 9) in t.log
    t.destroy("/r/10")  # outside any block: allowed
    assert ("destroy", 10) in t.log


def test_composite_failure_undoes_its_finished_parts(journal_dir: Path) -> None:
    """A composite op failing halfway undoes its own finished inner steps at once, even if the caller catches it."""
    registry, t = make_domain()
    with Atomic(registry=registry) as atomic:
        with pytest.raises(Boom):
            atomic.t.make_two(1, fail_second=True)
        assert t.log == [("make", 1), ("fail", 2), ("unmake", 1)]
        atomic.t.make_two(10)
    assert t.log[-2:] == [("make", 10), ("make", 11)]
    assert [s.spec.name for s in atomic.steps if s.undo] == ["make", "make"]


def test_nested_block_steps_are_adopted_by_outer(journal_dir: Path) -> None:
    """A committed inner block's steps are undone when the outer block fails later."""
    registry, t = make_domain()
    with pytest.raises(Boom):
        with Atomic(registry=registry) as outer:
            outer.t.make(1)
            with Atomic(registry=registry) as inner:
                inner.t.make(2)
            outer.t.make(3, fail=True)
    assert [i for k, i in t.log if k == "unmake"] == [2, 1]


def test_dry_run_records_plan_and_undo_commands() -> None:
    """A dry run executes no mutating command, and lists each step's commands and its undo's commands."""
    from pybofh_core.runner import run

    @operation(inverse=lambda res, name: undo(rm, name))
    def mk(name: str) -> str:
        run(["mkthing", "--", name])
        return name

    @operation(irreversible="removes")
    def rm(name: str) -> None:
        run(["rmthing", "--", name])

    registry = OperationRegistry()
    registry.add_module("d", module_of("dry_ops", mk, rm))
    inner = FakeRunner()  # would fail loudly on any command that reached it
    with use_runner(inner):
        with Atomic(registry=registry, dry_run=True) as atomic:
            atomic.d.mk("a")
    assert inner.calls == []
    assert atomic.plan == [
        {
            "step": 1,
            "op": "d.mk",
            "args": {"name": "a"},
            "operation": "d.mk(name='a')",
            "commands": ["mkthing -- a"],
            "undo": "d.rm('a')",
            "undo_commands": ["rmthing -- a"],
            "undo_note": None,
            "irreversible": None,
        }
    ]
    assert "undo: d.rm('a')" in atomic.format_plan()


def test_a_runner_set_inside_a_dry_run_block_is_planned_on_too() -> None:
    """``use_runner(...)`` inside ``Atomic(dry_run=True)`` (a script driving another host) used to replace the
    dry-run runner, so the step's command ran for real; now it joins the block's plan and reaches no runner."""
    from pybofh_core.runner import run

    @operation(inverse=lambda res, name: undo(rm2, name))
    def mk2(name: str) -> str:
        run(["mkthing", "--", name])
        return name

    @operation(irreversible="removes")
    def rm2(name: str) -> None:
        run(["rmthing", "--", name])

    registry = OperationRegistry()
    registry.add_module("d", module_of("dry_ops2", mk2, rm2))
    inner = FakeRunner()  # would fail loudly on any command that reached it
    with Atomic(registry=registry, dry_run=True) as atomic:
        with use_runner(inner):
            atomic.d.mk2("a")
        atomic.d.mk2("b")
    assert inner.calls == []
    assert [(p["commands"], p["undo_commands"]) for p in atomic.plan] == [
        (["mkthing -- a"], ["rmthing -- a"]), (["mkthing -- b"], ["rmthing -- b"])]


def test_block_cannot_be_reused_or_used_closed(journal_dir: Path) -> None:
    """Calling through a closed block, or wrapping a non-operation, is a clear error."""
    registry, _ = make_domain()
    with Atomic(registry=registry) as atomic:
        pass
    with pytest.raises(PybofhError, match="not open"):
        atomic.t.make(1)
    with pytest.raises(ValidationError, match="not a pybofh operation"):
        Atomic(registry=registry)(print)
    with pytest.raises(AttributeError, match="no plugin registered operations"):
        with Atomic(registry=registry) as a2:
            a2.nosuchdomain.x()


def test_bad_arguments_are_validation_errors_before_anything_runs(journal_dir: Path) -> None:
    """Wrong call arguments are reported as ValidationError and no step is journalled."""
    registry, t = make_domain()
    with pytest.raises(ValidationError):
        with Atomic(registry=registry) as atomic:
            atomic.t.make()  # missing argument
    assert t.log == []
    records = list(iter_records(session_journal().list()[0].path))
    assert [r["type"] for r in records if r["type"] == "step"] == []


SEED_EXAMPLE = textwrap.dedent(
    """
    def f1():
        print("f1 executed")

    def reverse(f, args, kwargs):
         if f==f1:
             print("f1 reversed")

    with AtomicOperationSequence(reverse) as atomic:
        atomic.f1()
    """
)


def test_seed_atomic_operation_sequence_example_runs_as_written() -> None:
    """The seed README's example (Python 3 print) runs; nothing is reversed when the block succeeds."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(SEED_EXAMPLE, {"AtomicOperationSequence": AtomicOperationSequence})
    assert out.getvalue() == "f1 executed\n"


def test_seed_example_reverses_when_block_fails() -> None:
    """The same example with a failure after ``f1`` reverses it, and the error propagates."""
    out = io.StringIO()
    code = SEED_EXAMPLE + "    raise RuntimeError('later step failed')\n"
    with contextlib.redirect_stdout(out), pytest.raises(RuntimeError, match="later step failed"):
        exec(code, {"AtomicOperationSequence": AtomicOperationSequence})
    assert out.getvalue() == "f1 executed\nf1 reversed\n"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=10), st.integers(0, 10))
def test_generic_sequence_reverses_in_order(calls: list, fail_at: int) -> None:
    """AtomicOperationSequence: reverse(f, args, kwargs) for each call newest-first; undo failures are grouped."""
    log: list[tuple[str, int]] = []

    def f(x: int, bad_undo: bool = False) -> int:
        log.append(("f", x))
        return x

    def reverse(func, args, kwargs):  # type: ignore[no-untyped-def]
        def do() -> None:
            log.append(("r", args[0]))
            if kwargs.get("bad_undo"):
                raise UndoBoom(str(args[0]))

        return do

    raised = None
    try:
        with AtomicOperationSequence(reverse) as atomic:
            for n, (x, bad) in enumerate(calls):
                if n == fail_at:
                    raise Boom("x")
                atomic(f)(x, bad_undo=bad)
    except BaseException as exc:
        raised = exc
    ran = calls[:fail_at]
    if fail_at >= len(calls):
        assert raised is None and [e for e in log if e[0] == "r"] == []
        return
    assert [e[1] for e in log if e[0] == "r"] == [x for x, _ in reversed(ran)]
    bad = [x for x, b in reversed(ran) if b]
    if bad:
        assert isinstance(raised, RollbackError) and [str(e) for e in raised.exceptions] == [str(x) for x in bad]
        assert isinstance(raised.__cause__, Boom)
    else:
        assert isinstance(raised, Boom)


def test_secret_parameters_are_wrapped_before_the_journal_sees_them(journal_dir: Path) -> None:
    """A passphrase given as a plain str to a ``secrets=`` parameter never reaches the journal."""
    from pybofh_core.secret import Secret

    seen: list[object] = []

    @operation(inverse=lambda _: None, secrets=("passphrase",))
    def unlock(device: str, passphrase: str) -> None:
        seen.append(passphrase)

    registry = OperationRegistry()
    registry.add_module("s", module_of("s_ops", unlock))
    with Atomic(registry=registry) as atomic:
        atomic.s.unlock("/dev/x", "plain-text-passphrase-77")
    assert isinstance(seen[0], Secret) and seen[0].reveal() == "plain-text-passphrase-77"
    text = session_journal().list()[0].path.read_text()
    assert "plain-text-passphrase-77" not in text and '"passphrase":{"__secret__":true}' in text


def test_irreversible_target_may_be_computed_from_arguments(journal_dir: Path) -> None:
    """``target=`` can be a function of the arguments when no single parameter names the object."""
    log: list[str] = []

    @operation(inverse=lambda res, vg, name: None, creates=lambda res: [res])
    def make_lv(vg: str, name: str) -> str:
        return f"/dev/{vg}/{name}"

    @operation(irreversible="destroys the LV", target=lambda a: f"/dev/{a['vg']}/{a['name']}")
    def drop_lv(vg: str, name: str) -> None:
        log.append(f"{vg}/{name}")

    registry = OperationRegistry()
    registry.add_module("c", module_of("c_ops", make_lv, drop_lv))
    with Atomic(registry=registry) as atomic:
        atomic.c.make_lv("vg", "a")
        atomic.c.drop_lv("vg", "a")
        with pytest.raises(IrreversibleOperationError, match="'/dev/vg/b'"):
            atomic.c.drop_lv("vg", "b")
    assert log == ["vg/a"]
