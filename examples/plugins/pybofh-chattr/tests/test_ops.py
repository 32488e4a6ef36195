"""The operations on a fake runner: their commands, their undo (by identity), refusals before any command."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from chattr_fakes import APPEND_ONLY, IMMUTABLE, FakeFile, recording
from pybofh_chattr import facts, ops
from pybofh_chattr.errors import AttributesUnsupportedError, ChattrError

from pybofh_core import Atomic
from pybofh_core.errors import (
    IdentityMismatchError,
    NotFoundError,
    RollbackError,
    ToolUnavailableError,
    ValidationError,
)
from pybofh_core.operations import spec_of
from pybofh_core.runner import FakeRunner

F = "/srv/data/f"
LSATTR = ("lsattr", "-d", "-v", "--", F)


class Boom(Exception):
    """The job's own failure, after its steps."""


def test_set_immutable_runs_chattr_between_two_reads(fake_runner: FakeRunner,
                                                     fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F)
    done = ops.set_immutable(F)
    assert fake_runner.calls == [LSATTR, ("chattr", "+i", "--", F), LSATTR]
    assert done.changed and done.value and done.attribute == "immutable"
    assert (done.dev, done.generation) == (1, 4242) and done.ino
    assert facts.get_attributes(F).immutable


@pytest.mark.parametrize(
    ("op", "start", "argv"),
    [
        (ops.clear_immutable, IMMUTABLE, ("chattr", "-i", "--", F)),
        (ops.set_append_only, "--------------e-------", ("chattr", "+a", "--", F)),
        (ops.clear_append_only, APPEND_ONLY, ("chattr", "-a", "--", F)),
    ],
)
def test_each_operation_runs_its_chattr(fake_runner: FakeRunner, fake_file: Callable[..., FakeFile],
                                        op: Callable[..., object], start: str, argv: tuple[str, ...]) -> None:
    fake_file(F, start)
    op(F)
    assert fake_runner.calls == [LSATTR, argv, LSATTR]


def test_already_immutable_runs_no_chattr_and_leaves_nothing_to_undo(
    fake_runner: FakeRunner, fake_file: Callable[..., FakeFile]
) -> None:
    fake_file(F, IMMUTABLE)
    with pytest.raises(Boom), Atomic() as atomic:
        done = atomic.chattr.set_immutable(F)
        raise Boom
    assert not done.changed
    assert fake_runner.calls == [LSATTR]  # nothing ran, nothing undone: the file stays immutable as it was


def test_a_failed_block_undoes_set_immutable_on_the_same_file(
    fake_runner: FakeRunner, fake_file: Callable[..., FakeFile]
) -> None:
    file = fake_file(F)
    with pytest.raises(Boom), Atomic() as atomic:
        atomic.chattr.set_immutable(F)
        assert file.flags == IMMUTABLE
        raise Boom
    assert file.flags != IMMUTABLE
    assert fake_runner.calls.count(("chattr", "-i", "--", F)) == 1


def test_the_plan_shows_the_undo_with_the_files_identity(fake_runner: FakeRunner,
                                                          fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F)
    with Atomic(dry_run=True) as atomic:
        atomic.chattr.set_immutable(F)
    [step] = atomic.plan
    assert step["op"] == "chattr.set_immutable"
    assert step["commands"] == [f"chattr +i -- {F}"]
    assert step["undo"] == f"chattr.clear_immutable('{F}')"
    assert step["undo_commands"] == [f"chattr -i -- {F}"]  # planned although the file is not immutable yet
    assert ("chattr", "+i", "--", F) not in fake_runner.calls  # planned, not run


def test_each_operation_is_the_others_inverse() -> None:
    for op, inverse in [(ops.set_immutable, ops.clear_immutable), (ops.set_append_only, ops.clear_append_only)]:
        for a, b in [(op, inverse), (inverse, op)]:
            spec = spec_of(a)
            assert spec is not None and spec.identify is not None and set(spec.requires) == {"chattr", "lsattr"}
            from pybofh_chattr.types import AttributeChange

            undo = spec.inverse(AttributeChange(F, "x", True, True, 3, 12, 99))  # type: ignore[misc]
            assert undo.func is b and undo.args == (F,)
            assert dict(undo.identity) == {"dev": 3, "ino": 12, "generation": 99}
            assert spec.inverse(AttributeChange(F, "x", True, False, 3, 12, 99)) is None  # type: ignore[misc]


def test_undo_leaves_another_file_at_that_path_alone(fake_runner: FakeRunner,
                                                     fake_file: Callable[..., FakeFile]) -> None:
    first = fake_file(F)
    with pytest.raises(RollbackError) as err, Atomic() as atomic:
        atomic.chattr.set_immutable(F)
        fake_file(F, first.flags, generation=5151)  # deleted and made again: ext4 may even reuse the inode number
        raise Boom
    assert ("chattr", "-i", "--", F) not in fake_runner.calls
    [left_alone] = err.value.exceptions
    assert isinstance(left_alone, IdentityMismatchError) and "generation 5151" in str(left_alone)
    assert isinstance(err.value.__cause__, Boom)
    assert err.value.exit_code == 3  # needs attention


def test_undo_of_a_deleted_file_counts_as_done(fake_runner: FakeRunner, fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F)
    with pytest.raises(Boom), Atomic() as atomic:
        atomic.chattr.set_immutable(F)
        fake_runner.paths = {}
        raise Boom
    assert ("chattr", "-i", "--", F) not in fake_runner.calls


@pytest.mark.parametrize(
    "path",
    ["relative/f", "-rf", "/srv/../etc/passwd", "/srv/f;rm -rf /", "", " /srv/f", "/srv/f\n", "/srv/$HOME", 42],
)
@pytest.mark.parametrize("op", [ops.set_immutable, ops.clear_immutable, ops.set_append_only, ops.clear_append_only])
def test_bad_paths_are_refused_before_any_command(fake_runner: FakeRunner, op: Callable[..., object],
                                                  path: object) -> None:
    fake_runner.paths = {}
    with pytest.raises(ValidationError):
        op(path)
    assert fake_runner.calls == []


def test_a_missing_file_is_not_found_before_any_command(fake_runner: FakeRunner) -> None:
    fake_runner.paths = {"/srv": "dir"}
    with pytest.raises(NotFoundError):
        ops.set_immutable("/srv/missing")
    assert fake_runner.calls == []


def test_a_device_node_is_refused_before_any_command(fake_runner: FakeRunner) -> None:
    fake_runner.paths = {"/dev/sdz": "block"}
    with pytest.raises(AttributesUnsupportedError) as err:
        ops.set_immutable("/dev/sdz")
    assert isinstance(err.value, ValidationError) and err.value.exit_code == 2
    assert fake_runner.calls == []


def test_a_file_without_attributes_is_a_typed_error(fake_runner: FakeRunner) -> None:
    fake_runner.paths = {"/proc/self/status": "file"}
    fake_runner.expect(["lsattr", ...], stderr=recording("lsattr-d_proc.stderr.txt"), returncode=1)
    with pytest.raises(AttributesUnsupportedError):
        ops.set_immutable("/proc/self/status")
    assert not any(c[0] == "chattr" for c in fake_runner.calls)


def test_without_generations_the_identity_is_device_and_inode(fake_runner: FakeRunner,
                                                              fake_file: Callable[..., FakeFile]) -> None:
    file = fake_file(F, generation=None)  # tmpfs: lsattr -v fails, lsattr -d answers
    with pytest.raises(Boom), Atomic() as atomic:
        done = atomic.chattr.set_immutable(F)
        assert done.generation is None and file.flags == IMMUTABLE
        raise Boom
    assert file.flags != IMMUTABLE
    assert ("lsattr", "-d", "--", F) in fake_runner.calls


def test_a_missing_tool_is_refused_before_any_command(fake_runner: FakeRunner,
                                                      fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F)
    fake_runner.tools = {"lsattr"}
    with pytest.raises(ToolUnavailableError) as err:
        ops.set_immutable(F)
    assert err.value.tool == "chattr"
    assert fake_runner.calls == []


def test_chattr_that_does_not_take_is_an_error(fake_runner: FakeRunner, fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F)
    fake_runner.expect(["chattr", "+i", "--", F])  # succeeds, changes nothing
    with pytest.raises(ChattrError, match="still not immutable"):
        ops.set_immutable(F)


def test_results_are_passed_on_as_paths(fake_runner: FakeRunner, fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F)
    done = ops.set_immutable(F)
    assert ops.clear_immutable(done).changed  # an AttributeChange names its file by __fspath__
    assert facts.get_attributes(done).path == F
