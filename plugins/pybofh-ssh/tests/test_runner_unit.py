"""Unit tests of the ssh runner without a server: quoting, validation before any command, the ssh argv it builds."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from pybofh_core.errors import CommandError, NotFoundError, ValidationError
from pybofh_core.runner import FakeRunner, make_runner
from pybofh_ssh.errors import HostUnreachableError
from pybofh_ssh.runner import MARKER, SshRunner, remote_command, split_stderr, validate_host


def test_remote_command_survives_a_posix_shell_verbatim(tmp_path, hostile_args):
    """The string ssh hands the remote login shell gives back exactly the argv (checked with the local sh)."""
    args = hostile_args
    cmd = remote_command(["printf", "%s\\0", *args])
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, check=True)
    assert proc.stdout.split(b"\0")[:-1] == [a.encode() for a in args]
    assert proc.stderr == MARKER
    assert not list(tmp_path.glob("pwned*"))


def test_remote_command_sets_c_locale_and_sbin_path_and_env(tmp_path):
    """LC_ALL/LANG are C, sbin dirs are on PATH, caller env is passed (quoted), caller cannot override the locale."""
    cmd = remote_command(
        ["sh", "-c", 'printf "%s|%s|%s|%s" "$LC_ALL" "$LANG" "$FOO" "$PATH"'], {"FOO": "x y;$(id)", "LC_ALL": "de_DE"}
    )
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    lc_all, lang, foo, path = out.decode().split("|")
    assert (lc_all, lang, foo) == ("C", "C", "x y;$(id)")
    assert path.split(":")[-3:] == ["/usr/local/sbin", "/usr/sbin", "/sbin"]


@pytest.mark.parametrize(
    ("argv", "env"),
    [([], None), (["A=b", "x"], None), (["true"], {"BAD NAME": "1"}), (["true"], {"1X": "1"})],
)
def test_remote_command_refuses_what_env_would_misread(argv, env):
    with pytest.raises(ValidationError):
        remote_command(argv, env)


def test_split_stderr_separates_ssh_chatter_from_command_stderr():
    chatter, err, started = split_stderr(b"Warning: added key\n" + MARKER + b"boom\n")
    assert (chatter, err, started) == (b"Warning: added key\n", b"boom\n", True)
    assert split_stderr(b"ssh: connect to host x port 22: Connection refused\n")[2] is False


@pytest.mark.parametrize("host", ["", "-oProxyCommand=touch /tmp/x", "a b", "db1\n", "db\x00", 5, None])
def test_bad_hosts_are_refused(host):
    with pytest.raises(ValidationError):
        validate_host(host)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"port": 0},
        {"port": 70000},
        {"port": "22"},
        {"connect_timeout": 0},
        {"control_persist": -1},
        {"options": ["ProxyCommand sh -c x"]},
        {"options": ["-oFoo=bar"]},
        {"ssh": "ssh -v"},
    ],
)
def test_bad_options_are_refused_before_any_command(kwargs):
    with pytest.raises(ValidationError):
        SshRunner("db1", **kwargs)


def test_missing_config_or_identity_is_not_found(tmp_path):
    with pytest.raises(NotFoundError):
        SshRunner("db1", ssh_config=tmp_path / "nope")
    with pytest.raises(NotFoundError):
        SshRunner("db1", identity=tmp_path / "nope")


def _runner_with_fake_ssh(tmp_path) -> tuple[SshRunner, FakeRunner]:
    cfg = tmp_path / "cfg"
    cfg.write_text("")
    # one ssh per command (the resident shell is a long-lived process; test_resident.py exercises it on real sshd)
    runner = SshRunner("root@db1", ssh_config=cfg, port=2222, connect_timeout=2.5, options=["ServerAliveInterval=5"],
                       resident_shell=False)
    fake = FakeRunner()
    runner._local = fake  # the local side of the transport: records the ssh argv instead of running ssh
    return runner, fake


def test_invalid_command_runs_nothing(tmp_path):
    runner, fake = _runner_with_fake_ssh(tmp_path)
    with pytest.raises(ValidationError):
        runner.run(["A=b"])
    with pytest.raises(ValidationError):
        runner.run("ls -l")
    with pytest.raises(ValidationError):
        runner.which("sh; reboot")
    assert fake.calls == []
    runner.close()


def test_ssh_argv_multiplexes_in_a_private_dir_and_maps_exit_codes(tmp_path):
    """The exact ssh argv; remote stderr after the marker is the command's; exit 255 without marker = unreachable."""
    runner, fake = _runner_with_fake_ssh(tmp_path)
    fake.expect(["ssh", ...], stdout=b"out\n", stderr=b"chatter\n" + MARKER + b"err\n", returncode=3)
    with pytest.raises(CommandError) as info:
        runner.run(["lvs", "--", "a b"])
    assert (info.value.returncode, info.value.stderr, info.value.host) == (3, b"err\n", "root@db1")
    control = runner.control_path
    assert control is not None and len(control) + 17 < 108
    assert stat.S_IMODE(os.stat(os.path.dirname(control)).st_mode) == 0o700
    assert fake.calls[0] == (
        "ssh", "-F", str(tmp_path / "cfg"), "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR",
        "-o", "ControlMaster=auto", "-o", f"ControlPath={control}", "-o", "ControlPersist=60",
        "-p", "2222", "-o", "ServerAliveInterval=5", "-T", "--", "root@db1", remote_command(["lvs", "--", "a b"]),
    )
    fake.expect(["ssh", ...], stderr=b"ssh: connect to host db1 port 2222: Connection refused\n", returncode=255)
    with pytest.raises(HostUnreachableError) as unreach:
        runner.run(["true"])
    assert unreach.value.returncode is None and b"Connection refused" in unreach.value.stderr
    # closing asks the master to exit through the same control path, then removes the private dir
    fake.expect(["ssh", ...], returncode=0)
    directory = os.path.dirname(control)
    open(control, "w").close()  # stand-in for the socket, so close() knows a master may be up
    runner.close()
    assert fake.calls[-1][-4:] == ("-O", "exit", "--", "root@db1")
    assert not os.path.exists(directory)


def test_no_multiplexing_leaves_control_options_to_the_ssh_config(tmp_path):
    runner = SshRunner("db1", control_persist=0, resident_shell=False)  # the one-shot path records its argv
    fake = FakeRunner().expect(["ssh", ...], stdout=b"x", stderr=MARKER)
    runner._local = fake
    assert runner.run(["true"]).stdout == b"x"
    assert not any(a.startswith("Control") for a in fake.calls[0])


def test_describe_rebuilds_an_equal_runner_through_the_entry_point(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.write_text("")
    runner = SshRunner("root@db1", ssh_config=cfg, port=2222, options=["ServerAliveInterval=5"])
    desc = runner.describe()
    assert desc["runner"] == "ssh" and desc["host"] == "root@db1"
    options = {k: v for k, v in desc.items() if k != "runner" and v is not None}  # what `bofh journal rollback` does
    again = make_runner("ssh", **options)
    assert isinstance(again, SshRunner)
    assert again.describe() == desc


def test_unreachable_is_a_command_error():
    assert issubclass(HostUnreachableError, CommandError)
