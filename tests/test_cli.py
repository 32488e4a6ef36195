"""The ``bofh`` CLI: global options, plugin sub-apps, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from pybofh_core import hookimpl, operation, undo
from pybofh_core.atomic import Atomic
from pybofh_core.cli import hoist_global_flags, main, output
from pybofh_core.errors import ValidationError
from pybofh_core.plugins import Plugins
from pybofh_core.runner import run
from pybofh_core.session import set_plugins
from pybofh_core.validate import validate_name


@operation(inverse=lambda res, name: undo(drop, name))
def make(name: str) -> str:
    """Make a thing (``mkdir`` in /tmp is the stand-in)."""
    run(["mkdir", "--", f"/tmp/pybofh-cli-test-{validate_name(name)}"])
    return name


@operation(irreversible="drops the thing")
def drop(name: str) -> None:
    """Drop a thing."""
    run(["rmdir", "--", f"/tmp/pybofh-cli-test-{validate_name(name)}"])


demo = typer.Typer(no_args_is_help=True)


@demo.callback()
def demo_cb() -> None:
    """A demo plugin (a callback keeps typer from collapsing a one-command app)."""


@demo.command("make")
def make_cmd(name: str, fail: bool = False) -> None:
    """Make a thing, optionally failing afterwards (rolled back)."""
    with Atomic() as atomic:
        result = atomic.demo.make(name)
        if fail:
            run(["false"])
    output({"made": result})


class DemoPlugin:
    @hookimpl
    def pybofh_register_operations(self, registry):  # type: ignore[no-untyped-def]
        registry.add("demo", make)
        registry.add("demo", drop)

    @hookimpl
    def pybofh_register_cli(self, registry):  # type: ignore[no-untyped-def]
        registry.add("demo", demo, help="A demo plugin.")


@pytest.fixture
def bofh(capfd: pytest.CaptureFixture[str]) -> Iterator[object]:
    """Run ``bofh`` in-process (real main(), real runner) with the demo plugin; returns (code, out, err)."""
    host = Plugins()
    host.register(DemoPlugin(), "demo")
    set_plugins(host)

    def invoke(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(list(argv))
        out, err = capfd.readouterr()
        return int(info.value.code or 0), out, err

    try:
        yield invoke
    finally:
        set_plugins(None)
        subprocess.run(["rmdir", "/tmp/pybofh-cli-test-x"], capture_output=True)


def test_plugins_table_and_json(bofh) -> None:  # type: ignore[no-untyped-def]
    """``bofh plugins`` shows name, version, distribution and status; ``--json`` after the command works too."""
    code, out, _ = bofh("plugins")
    assert code == 0 and out.splitlines()[0].split() == ["NAME", "VERSION", "DISTRIBUTION", "STATUS"]
    code, out, _ = bofh("plugins", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["lvm"]["distribution"] == "pybofh-lvm" and rows["demo"]["loaded"]
    code, out, _ = bofh("plugins", "--operations", "--json")
    ops = {r["operation"]: r["undo"] for r in json.loads(out)}
    assert ops["demo.make"] == "yes" and ops["demo.drop"] == "irreversible: drops the thing"


def test_success_failure_and_bad_input_exit_codes(bofh) -> None:  # type: ignore[no-untyped-def]
    """0 on success; 1 when an operation failed and was rolled back; 2 for bad input; one line, no traceback."""
    code, out, err = bofh("--json", "demo", "make", "x")
    assert code == 0 and json.loads(out) == {"made": "x"}
    subprocess.run(["rmdir", "/tmp/pybofh-cli-test-x"], check=True)

    code, out, err = bofh("demo", "make", "x", "--fail")
    assert code == 1
    assert err.splitlines()[0] == "bofh: error: command 'false' exited with status 1"
    assert "rolled back 1 step(s)" in err and "Traceback" not in err
    assert subprocess.run(["test", "-e", "/tmp/pybofh-cli-test-x"]).returncode == 1  # rolled back

    code, out, err = bofh("demo", "make", "-bad/name")
    assert code == 2 and "Traceback" not in err
    code, out, err = bofh("demo", "make", "--", "-bad")
    assert code == 2 and err.startswith("bofh: error: name: '-bad' starts with '-'")
    code, _, err = bofh("no-such-group")
    assert code == 2 and "No such command" in err


def test_dry_run_prints_commands_and_changes_nothing(bofh) -> None:  # type: ignore[no-untyped-def]
    """``--dry-run`` lists the commands that would run and runs none of them."""
    code, _, err = bofh("--dry-run", "demo", "make", "x")
    assert code == 0
    assert "$ mkdir -- /tmp/pybofh-cli-test-x" in err
    assert subprocess.run(["test", "-e", "/tmp/pybofh-cli-test-x"]).returncode == 1


def test_dry_run_shows_each_steps_undo_and_json_is_one_plan_document(bofh) -> None:  # type: ignore[no-untyped-def]
    """Every ``--dry-run`` lists each step's commands and then its undo's; ``--json`` prints one document with the
    steps (op, args, commands, undo commands) and the command's result; bad input prints no plan at all."""
    code, _, err = bofh("--dry-run", "demo", "make", "x")
    assert code == 0
    lines = err.splitlines()
    assert lines[1:] == [
        "1. demo.make(name='x')",
        "     $ mkdir -- /tmp/pybofh-cli-test-x",
        "   undo: demo.drop('x')",
        "     $ rmdir -- /tmp/pybofh-cli-test-x",
    ], err
    code, out, err = bofh("--dry-run", "--json", "demo", "make", "y")
    assert code == 0 and err == ""
    doc = json.loads(out)
    (step,) = doc["steps"]
    assert doc["dry_run"] is True and doc["result"] == {"made": "y"}
    assert (step["op"], step["args"]) == ("demo.make", {"name": "y"})
    assert step["commands"] == ["mkdir -- /tmp/pybofh-cli-test-y"]
    assert step["undo_commands"] == ["rmdir -- /tmp/pybofh-cli-test-y"]
    code, out, err = bofh("--dry-run", "demo", "make", "../bad")
    assert code == 2 and out == "" and err.startswith("bofh: error:") and "the plan" not in err, err
    assert err.splitlines()[-1] == "bofh: dry run: planning stopped here; nothing was changed"
    code, out, err = bofh("--dry-run", "demo", "no-such-command")
    assert code == 2 and "dry run" not in err


def test_the_journal_lists_the_commands_a_run_and_its_rollback_ran_as_the_plan_did(bofh) -> None:  # type: ignore[no-untyped-def]
    """``journal show --json`` gives each step's commands and its undo's commands in the plan's shape, so a script
    can compare a plan with the run: here they are equal, command by command."""
    code, out, _ = bofh("--dry-run", "--json", "demo", "make", "z")
    planned = [(s["op"], s["args"], s["commands"], s["undo_commands"]) for s in json.loads(out)["steps"]]
    code, _, _ = bofh("demo", "make", "z", "--fail")
    assert code == 1
    code, out, _ = bofh("--json", "journal", "list")
    jid = json.loads(out)[-1]["id"]
    code, out, _ = bofh("--json", "journal", "show", jid)
    ran = [(s["op"], s["args"], s["commands"], s["undo_commands"]) for s in json.loads(out)["steps"]]
    assert ran == planned == [("demo.make", {"name": "z"}, ["mkdir -- /tmp/pybofh-cli-test-z"],
                               ["rmdir -- /tmp/pybofh-cli-test-z"])]
    code, out, _ = bofh("journal", "show", jid)
    assert "mkdir -- /tmp/pybofh-cli-test-z" in out and "rmdir -- /tmp/pybofh-cli-test-z" in out


def test_journal_prune_deletes_only_ended_journals_and_never_one_with_work_left(bofh, journal_dir) -> None:  # type: ignore[no-untyped-def]
    """A rolled-back and a committed journal are pruned (``--dry-run`` first lists them and deletes nothing); an
    interrupted one (a killed block: work left to undo) and a running one are kept; asking to prune interrupted
    journals is refused (exit 2)."""
    from pybofh_core.journal import Journal

    bofh("demo", "make", "p1", "--fail")  # rolled back
    bofh("demo", "make", "p2")  # committed
    subprocess.run(["rmdir", "/tmp/pybofh-cli-test-p2"], check=False)
    journals = Journal(journal_dir)
    interrupted = journals.create("killed")  # begun and a step recorded, never ended: as after kill -9
    interrupted.append({"type": "step", "step": 1, "op": "demo.make", "args": {"name": "p3"}, "runner": {},
                        "kind": "inverse"})
    interrupted.append({"type": "ahead", "step": 1, "undo": {"op": "demo.drop", "args": ["p3"], "kwargs": {}}})
    interrupted.close()
    running = journals.create("running")  # its writer holds the journal's flock, as a running block does
    ids = {s.id: s.status for s in journals.list()}
    assert sorted(ids.values()) == ["committed", "interrupted", "rolled-back", "running"], ids
    code, out, _ = bofh("--dry-run", "--json", "journal", "prune", "--older-than", "0")
    assert code == 0 and sorted(r["id"] for r in json.loads(out)) == sorted(
        j for j, st in ids.items() if st in ("committed", "rolled-back"))
    assert len(journals.list()) == 4
    code, out, _ = bofh("--json", "journal", "prune", "--older-than", "0")
    assert code == 0 and len(json.loads(out)) == 2
    assert sorted(s.status for s in journals.list()) == ["interrupted", "running"]
    code, _, err = bofh("journal", "prune", "--status", "interrupted")
    assert code == 2 and "never pruned" in err
    code, _, err = bofh("journal", "prune", "--older-than", "soon")
    assert code == 2 and "--older-than" in err
    running.close()


def test_journal_commands(bofh) -> None:  # type: ignore[no-untyped-def]
    """``journal list/show`` report blocks; unknown ids are bad input (exit 2)."""
    bofh("demo", "make", "x", "--fail")
    code, out, _ = bofh("--json", "journal", "list")
    rows = json.loads(out)
    assert code == 0 and rows[-1]["status"] == "rolled-back"
    code, out, _ = bofh("journal", "show", rows[-1]["id"])
    assert code == 0 and "demo.make" in out and "undone" in out
    code, _, err = bofh("journal", "rollback", rows[-1]["id"])
    assert code == 0
    code, _, err = bofh("journal", "show", "nope")
    assert code == 2 and err.startswith("bofh: error: no journal 'nope'")


def test_global_flags_after_subcommand_are_hoisted() -> None:
    """``--json``/``--dry-run`` may follow the sub-command; nothing after ``--`` is touched."""
    assert hoist_global_flags(["plugins", "--json"]) == ["--json", "plugins"]
    assert hoist_global_flags(["x", "--", "--json"]) == ["x", "--", "--json"]


def test_every_root_option_is_accepted_after_the_subcommand() -> None:
    """``-v``, ``--host``, ``--hosts-file`` and ``--config`` too (with ``=`` or a separate value); a job's own
    arguments after ``bofh run JOB.py`` are left to the job."""
    assert hoist_global_flags(["lvm", "list", "--host", "db1", "-vv", "--config=/c", "--hosts-file", "f"]) == [
        "--host", "db1", "-vv", "--config=/c", "--hosts-file", "f", "lvm", "list"]
    assert hoist_global_flags(["blockdev", "resize", "/dev/x", "-1G", "--verbose"]) == [
        "--verbose", "blockdev", "resize", "/dev/x", "-1G"]
    assert hoist_global_flags(["run", "--json", "job.py", "--host", "x", "-v"]) == [
        "--json", "run", "job.py", "--host", "x", "-v"]


@pytest.mark.parametrize("late", [["--config", "/nonexistent/pybofh.toml"], ["--host", "-oProxyCommand=x"]])
def test_a_late_root_option_takes_effect(late: list[str], tmp_path: Path) -> None:
    """Proof that a root option after the sub-command is read as the root's: its own check refuses the value."""
    env = {**os.environ, "PYBOFH_JOURNAL_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "pybofh_core.cli", "journal", "list", *late], capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 2, out.stderr
    assert ("config file /nonexistent/pybofh.toml does not exist" in out.stderr
            or "-oProxyCommand=x" in out.stderr), out.stderr


def test_real_bofh_process_error_is_one_line() -> None:
    """The installed entry point maps errors to exit 2 and a single stderr line."""
    out = subprocess.run(
        [sys.executable, "-m", "pybofh_core.cli", "journal", "show", "../x"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_validation_error_is_value_error() -> None:
    """Typed errors keep their builtin parents so generic callers can catch them."""
    assert issubclass(ValidationError, ValueError)


def test_version_names_core_and_every_installed_plugin() -> None:
    """``bofh --version`` prints pybofh-core's version and each installed plugin's distribution and version (as
    pip knows them); ``--json`` gives the same as a list; exit 0 without a command."""
    from importlib.metadata import version

    res = subprocess.run([sys.executable, "-m", "pybofh_core.cli", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"pybofh-core {version('pybofh-core')}"
    for plugin in ("blockdev", "btrfs", "crypt", "drbd", "lvm", "ssh", "xen"):
        assert f"pybofh-{plugin} {version('pybofh-' + plugin)}" in lines
    res = subprocess.run([sys.executable, "-m", "pybofh_core.cli", "--version", "--json"], capture_output=True,
                         text=True, timeout=60)
    rows = json.loads(res.stdout)
    assert rows[0] == {"name": "core", "distribution": "pybofh-core", "version": version("pybofh-core"),
                       "status": "ok"}
    assert {r["name"] for r in rows} >= {"core", "blockdev", "lvm", "crypt"}


def test_a_mistyped_command_is_answered_with_the_closest_ones(bofh) -> None:  # type: ignore[no-untyped-def]
    """``bofh jornal`` and ``bofh dmeo``: exit 2 and "Did you mean 'journal'?" / "'demo'"; nothing close: no hint."""
    code, _, err = bofh("jornal", "list")
    assert code == 2 and "No such command 'jornal'. Did you mean 'journal'?" in err
    code, _, err = bofh("dmeo", "make", "x")
    assert code == 2 and "Did you mean 'demo'?" in err
    code, _, err = bofh("zzzzzz")
    assert code == 2 and "No such command 'zzzzzz'." in err and "Did you mean" not in err


def test_errors_under_json_are_one_json_object_on_stderr(bofh) -> None:  # type: ignore[no-untyped-def]
    """With --json (anywhere on the line) a refusal is ``{"error", "exit_code", "messages"}`` on stderr, for scripts;
    without it, the usual one line."""
    code, out, err = bofh("demo", "make", "../bad", "--json")
    assert code == 2 and out == ""
    doc = json.loads(err)
    assert doc["exit_code"] == 2 and doc["error"].startswith("name: '../bad'") and doc["messages"][0].startswith(
        "error: name")
    code, _, err = bofh("demo", "make", "../bad")
    assert code == 2 and err.startswith("bofh: error: name: '../bad'")


def _command_paths(command: Any, path: list[str]) -> Iterator[list[str]]:
    yield path
    for name in command.list_commands(None) if hasattr(command, "list_commands") else ():
        sub = command.get_command(None, name)
        if sub is not None and not sub.hidden:
            yield from _command_paths(sub, [*path, name])


def test_one_help_style_at_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    """Every command's help, the root's and every plugin's: plain text, no typer type labels (``<str>``,
    ``<list[str]>``), no raw docstring markup, no completion options below the root."""
    import re

    from pybofh_core.cli import app as root_app

    root = typer.main.get_command(root_app)
    paths = list(_command_paths(root, []))
    assert len(paths) > 40  # every plugin's commands are walked, not just the root
    for path in paths:
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        where = " ".join(["bofh", *path])
        label = re.search(r"<(?:str|int|float|bool|path|file|uuid|datetime|list\[[a-z, ]+\]|[a-z]+ range)>", text)
        assert not label, f"{where} --help shows a type label:\n{text}"
        assert "``" not in text, f"{where} --help shows docstring markup:\n{text}"
        assert "╭" not in text, f"{where} --help is rich-boxed:\n{text}"
        if path:
            assert "--install-completion" not in text and "--show-completion" not in text, where
