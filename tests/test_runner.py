"""The runner: real local commands, typed errors, redaction, dry-run and fake transports, driver lookup."""

from __future__ import annotations

import logging
import os
import time

import pytest

from pybofh_core.errors import CommandError, CommandTimeoutError, NotFoundError, PluginError, ValidationError
from pybofh_core.runner import (
    DryRunRunner,
    FakeRunner,
    LocalRunner,
    UnexpectedCommandError,
    get_runner,
    make_runner,
    run,
    use_runner,
)
from pybofh_core.secret import Secret


def test_local_runner_runs_argv_with_c_locale_and_closed_stdin() -> None:
    """Commands run without a shell, under LC_ALL=C, with stdin at EOF unless input is given."""
    r = LocalRunner()
    assert r.run(["printf", "%s|", "a b", "$HOME", ";", "*"]).stdout == b"a b|$HOME|;|*|"
    assert r.run(["env"]).text.count("LC_ALL=C\n") == 1
    assert r.run(["cat"]).stdout == b""  # would hang if stdin were inherited
    assert r.run(["cat"], input="data\n").stdout == b"data\n"


def test_nonzero_exit_is_typed_command_error() -> None:
    """A failing command raises CommandError with argv, exit code, stdout and stderr."""
    with pytest.raises(CommandError) as info:
        LocalRunner().run(["ls", "/nonexistent-pybofh"])
    exc = info.value
    assert exc.argv == ["ls", "/nonexistent-pybofh"] and exc.returncode == 2
    assert b"No such file or directory" in exc.stderr
    assert "exited with status 2" in str(exc) and "No such file" in str(exc)
    assert LocalRunner().run(["false"], check=False).returncode == 1
    assert LocalRunner().run(["sh", "-c", "exit 3"], ok_codes=(0, 3)).returncode == 3


def test_missing_tool_and_timeout() -> None:
    """A missing executable and a timeout are CommandErrors with a reason, not OSError or TimeoutExpired."""
    with pytest.raises(CommandError, match="not installed"):
        LocalRunner().run(["pybofh-no-such-tool"])
    with pytest.raises(CommandTimeoutError, match=r"timed out after 0\.2s"):
        LocalRunner().run(["sleep", "5"], timeout=0.2)


@pytest.mark.parametrize("argv", ["ls -l", [], ["ls", "a\x00b"], ["ls", 3], [Secret("x")]])
def test_bad_argv_rejected_before_running(argv: object) -> None:
    """Strings (shell lines), empty lists, NUL bytes, non-strings and secrets in argv are refused."""
    fake = FakeRunner()
    with pytest.raises(ValidationError):
        fake.run(argv)  # type: ignore[arg-type]
    assert fake.calls == []


def test_secrets_redacted_from_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    """A secret given on stdin never appears in the log or in a CommandError, even if the tool echoes it."""
    caplog.set_level(logging.DEBUG, logger="pybofh.runner")
    secret = Secret("s3cr3t-passphrase-42")
    with pytest.raises(CommandError) as info:
        LocalRunner().run(["sh", "-c", 'read x; echo "bad passphrase $x" >&2; exit 1'], input=secret)
    text = str(info.value) + repr(info.value.stdout) + repr(info.value.stderr) + caplog.text
    assert "s3cr3t-passphrase-42" not in text and "***" in str(info.value)
    assert repr(secret) == "Secret('***')" and str(secret) == "***"
    with pytest.raises(ValidationError, match="secret"):
        LocalRunner().run(["env"], input=secret, env={"KEY": "s3cr3t-passphrase-42"})


def test_fake_runner_replays_and_fails_loudly() -> None:
    """Recorded replies match exact argv or a prefix; anything else fails the test."""
    fake = FakeRunner().expect(["lvs", ...], stdout="x").expect(["vgs"], stdout="y", returncode=5)
    assert fake.run(["lvs", "--all"]).text == "x"
    with pytest.raises(CommandError):
        fake.run(["vgs"])
    with pytest.raises(UnexpectedCommandError, match="pvs"):
        fake.run(["pvs"])
    assert fake.calls == [("lvs", "--all"), ("vgs",), ("pvs",)]
    once = FakeRunner().expect(["a"], times=1)
    once.run(["a"])
    with pytest.raises(UnexpectedCommandError):
        once.run(["a"])


def test_dry_run_records_mutations_and_runs_reads() -> None:
    """A dry run executes read-only commands for real and records the others."""
    dry = DryRunRunner(LocalRunner())
    with use_runner(dry):
        assert run(["echo", "hi"], readonly=True).text == "hi\n"
        assert run(["rm", "-rf", "--", "/nonexistent-pybofh-x"]).returncode == 0
    assert [str(c) for c in dry.plan] == ["rm -rf -- /nonexistent-pybofh-x"]
    assert get_runner().name == "local"


def test_make_runner_by_name_through_entry_points() -> None:
    """Transports are found by name in the ``pybofh.runners`` group; unknown names are a PluginError."""
    assert isinstance(make_runner("local"), LocalRunner)
    assert isinstance(make_runner("dry-run"), DryRunRunner)
    assert isinstance(make_runner("fake"), FakeRunner)
    with pytest.raises(PluginError, match="no-such-transport"):
        make_runner("no-such-transport")


def test_sbin_tools_found_without_sbin_in_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Admin tools in /sbin and /usr/sbin are found even when PATH lacks them (cron, sudo -E, pyenv shells)."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert LocalRunner().which("losetup") in ("/usr/sbin/losetup", "/sbin/losetup")
    assert LocalRunner().run(["losetup", "--version"]).returncode == 0
    assert os.environ["PATH"] == "/usr/bin:/bin"


def test_path_kind_is_answered_where_commands_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Existence checks ask the runner: the kernel locally, ``stat`` on a remote transport, a table in tests."""
    from pybofh_core.runner import Runner
    from pybofh_core.validate import validate_path

    class Remote(Runner):  # uses the generic implementation (one read-only stat), executed locally here
        name = "remote-like"

        def _execute(self, argv, data, timeout, *, readonly, env):  # type: ignore[no-untyped-def]
            assert readonly
            return LocalRunner()._execute(argv, data, timeout, readonly=readonly, env=env)

    (tmp_path / "f").write_text("x")
    for runner in (LocalRunner(), Remote()):
        assert runner.path_kind(str(tmp_path)) == "dir"
        assert runner.path_kind(str(tmp_path / "f")) == "file"
        assert runner.path_kind("/dev/null") == "other"
        assert runner.path_kind(str(tmp_path / "missing")) is None
    fake = FakeRunner()
    fake.paths = {"/dev/sdz": "block"}
    with use_runner(fake):
        assert validate_path("/dev/sdz", kind="block") == "/dev/sdz"
        with pytest.raises(NotFoundError):
            validate_path(str(tmp_path), must_exist=True)
    assert fake.calls == []


# --- timeouts: a tool that writes is never killed by default -------------------------------------------------------


def test_mutating_commands_are_not_killed_by_the_read_only_timeout(caplog: pytest.LogCaptureFixture) -> None:
    """With core.command_timeout at 0.3 s, a read-only command is killed, a mutating one runs to its end (mkfs,
    resize2fs or lvresize killed mid-write can destroy data) and logs a heartbeat; core.mutating_command_timeout
    or an explicit timeout still kill it."""
    import logging

    from pybofh_core.errors import CommandTimeoutError
    from pybofh_core.runner import LocalRunner
    from pybofh_core.session import get_settings

    runner = LocalRunner()
    caplog.set_level(logging.INFO, logger="pybofh.runner")
    with get_settings().override(core__command_timeout=0.3, core__heartbeat_interval=0.2):
        with pytest.raises(CommandTimeoutError, match=r"timed out after 0\.3s"):
            runner.run(["sleep", "2"], readonly=True)
        started = time.monotonic()
        assert runner.run(["sleep", "1"]).returncode == 0
        assert time.monotonic() - started >= 1.0
        assert "still running after" in caplog.text
    with get_settings().override(core__mutating_command_timeout=0.3), pytest.raises(CommandTimeoutError):
        runner.run(["sleep", "2"])
    with pytest.raises(CommandTimeoutError, match=r"timed out after 0\.2s"):
        runner.run(["sleep", "2"], timeout=0.2)
