"""The runner's "where" answers over a real ssh connection (the loopback test fleet): the ssh transport inherits
the generic ``Runner`` answers, one read-only remote command each, and they agree with this machine's kernel (the
test hosts are this machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_core.errors import NotFoundError, ValidationError
from pybofh_core.runner import LocalRunner, Runner, same_path, use_runner
from pybofh_ssh.runner import SshRunner

NAMES = ["a.cfg", ".hidden", "two words; $(touch pwned)", "line\nbreak", "ünï ☃", "-n", "sub", "link", "dangling"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Files with names a shell would mangle, a subdirectory, a good and a dangling symlink."""
    (tmp_path / "a.cfg").write_bytes(b'name = "web"\n')
    for name in NAMES[1:6]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a.cfg")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    return tmp_path


def test_ssh_runner_inherits_the_generic_answers() -> None:
    """No local shortcut: every where-question of the ssh transport is the generic, command-based one."""
    for name in ("path_kind", "stat", "realpath", "exists", "same_path", "read_file", "list_dir"):
        assert getattr(SshRunner, name) is getattr(Runner, name), name


def test_where_answers_over_ssh(ssh_opts: dict[str, Any], tree: Path) -> None:
    """exists, read_file, list_dir, same_path, stat and realpath over ssh: the same answers as this kernel's."""
    t, local = str(tree), LocalRunner()
    with SshRunner("h1", **ssh_opts) as runner:
        assert runner.list_dir(t) == local.list_dir(t) == sorted(NAMES)
        assert runner.list_dir(f"{t}/sub") == [] and runner.list_dir(f"{t}/missing") is None
        assert runner.list_dir(f"{t}/a.cfg") is None
        assert runner.read_file(f"{t}/link") == b'name = "web"\n'
        with pytest.raises(NotFoundError, match="cannot read it: No such file or directory"):
            runner.read_file(f"{t}/missing")
        with pytest.raises(ValidationError, match="larger than 4 bytes"):
            runner.read_file(f"{t}/a.cfg", max_bytes=4)
        assert runner.exists(f"{t}/dangling") and not runner.exists(f"{t}/missing")
        assert runner.path_kind(f"{t}/dangling") is None and runner.path_kind(f"{t}/sub") == "dir"
        assert runner.same_path(f"{t}/link", f"{t}/a.cfg") and not runner.same_path(f"{t}/a.cfg", f"{t}/sub")
        assert runner.stat(f"{t}/link") == local.stat(f"{t}/a.cfg")
        assert runner.realpath(f"{t}/link") == str(tree / "a.cfg")
        with use_runner(runner):
            assert same_path(f"{t}/link", f"{t}/a.cfg")
    assert not (tree / "pwned").exists() and not Path("pwned").exists()
