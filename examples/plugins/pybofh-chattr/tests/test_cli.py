"""``bofh chattr`` through the shipped ``bofh`` fixture (discovery, one-line errors, exit codes), on a fake runner."""

from __future__ import annotations

import json
from collections.abc import Callable

from chattr_fakes import IMMUTABLE, PLAIN, FakeFile

from pybofh_core.runner import FakeRunner
from pybofh_core.testing import BofhCommand

F = "/srv/data/f"


def test_show(bofh: BofhCommand, fake_runner: FakeRunner, fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F, IMMUTABLE)
    out = bofh.ok("chattr", "show", F)
    assert "immutable" in out and F in out
    assert fake_runner.calls == [("lsattr", "-d", "-v", "--", F)]


def test_show_json(bofh: BofhCommand, fake_runner: FakeRunner, fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F, IMMUTABLE, generation=77)
    doc = json.loads(bofh.ok("--json", "chattr", "show", F))
    assert doc["path"] == F and doc["immutable"] is True and doc["append_only"] is False
    assert doc["attributes"] == ["immutable", "extents"] and doc["generation"] == 77


def test_immutable_then_mutable(bofh: BofhCommand, fake_runner: FakeRunner,
                                fake_file: Callable[..., FakeFile]) -> None:
    file = fake_file(F)
    doc = json.loads(bofh.ok("chattr", "immutable", F, "--json"))
    assert doc["changed"] is True and file.flags == IMMUTABLE
    bofh.ok("chattr", "mutable", F)
    assert file.flags == PLAIN
    assert [c for c in fake_runner.calls if c[0] == "chattr"] == [("chattr", "+i", "--", F), ("chattr", "-i", "--", F)]


def test_append_only_and_clear(bofh: BofhCommand, fake_runner: FakeRunner,
                               fake_file: Callable[..., FakeFile]) -> None:
    fake_file(F)
    bofh.ok("chattr", "append-only", F)
    bofh.ok("chattr", "append-only", "--clear", F)
    assert [c[1] for c in fake_runner.calls if c[0] == "chattr"] == ["+a", "-a"]


def test_dry_run_plans_the_command_and_its_undo(bofh: BofhCommand, fake_runner: FakeRunner,
                                                fake_file: Callable[..., FakeFile]) -> None:
    file = fake_file(F)
    done = bofh("--dry-run", "chattr", "immutable", F)
    assert done.code == 0
    plan = done.err.splitlines()  # the plan goes to stderr, the command's result to stdout
    assert plan[0].startswith("dry run: nothing was changed")
    assert plan[1:] == [
        f"1. chattr.set_immutable(path='{F}')",
        f"     $ chattr +i -- {F}",
        f"   undo: chattr.clear_immutable('{F}')",
        f"     $ chattr -i -- {F}",
    ]
    assert file.flags == PLAIN and not any(c[0] == "chattr" for c in fake_runner.calls)


def test_bad_input_is_one_line_exit_2_nothing_run(bofh: BofhCommand, fake_runner: FakeRunner) -> None:
    fake_runner.paths = {}
    for argv in (["immutable", "relative/path"], ["mutable", "/srv/missing"], ["show", "/srv/a;b"]):
        done = bofh("chattr", *argv)
        assert done.code == 2, done
        assert done.err.count("\n") == 1 and "Traceback" not in done.err
    assert fake_runner.calls == []
