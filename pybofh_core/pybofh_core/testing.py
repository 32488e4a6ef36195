"""pybofh's pytest plugin: the fixtures pybofh's own tests use, shipped so a plugin's tests can use them too.

Installed with pybofh-core as the ``pytest11`` entry point ``pybofh``, so a plugin's test suite gets these fixtures
without a conftest. None is autouse: a project that has pybofh-core installed but tests something else sees nothing
of it. A plugin's ``tests/conftest.py`` typically turns on the isolation for every test::

    import pytest

    @pytest.fixture(autouse=True)
    def _isolated(pybofh_isolated):       # own journal, lock and config directories per test
        yield pybofh_isolated

The fixtures:

* ``pybofh_isolated``: this test's own journal, lock and mount-pool directories, and no user or system config
  file; settings are reset before and after. Yields the journal directory.
* ``fake_runner``: a :class:`~pybofh_core.runner.FakeRunner` made current for the test (``expect()`` replies,
  ``calls``, ``paths`` and ``tools`` tables). Without ``paths`` (None) existence checks look at this machine's real
  filesystem; set ``fake_runner.paths = {}`` (nothing exists) or list the paths the test's machine has.
* ``loop_factory``: real loop devices backed by sparse temp files (root and ``losetup`` needed, else the test is
  skipped with the reason); every one is unmounted and detached at teardown, also when the test failed.
* ``bofh``: run ``bofh ARGV`` in-process as the command would (plugins found by discovery, errors as one line and
  an exit code): ``bofh("lvm", "lv", "list", "--json")`` returns a :class:`BofhRun` (``code``, ``out``, ``err``);
  ``bofh.ok(…)`` requires exit 0 and returns stdout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .runner import FakeRunner, use_runner

__all__ = ["BofhCommand", "BofhRun", "bofh", "fake_runner", "loop_factory", "pybofh_isolated", "release_loop"]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker ``loopdev`` the fixtures' users put on tests that attach loop devices (``--strict-markers``
    then accepts it without a declaration of the plugin's own)."""
    config.addinivalue_line("markers", "loopdev: runs real commands on loop devices backed by temp files (root)")


@pytest.fixture
def pybofh_isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own journal, lock and mount-pool directories, and no user or system config file."""
    from . import settings

    base = tmp_path_factory.mktemp("pybofh")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("PYBOFH_JOURNAL_DIR", str(base / "journal"))
    monkeypatch.setenv("PYBOFH_MOUNTPOOL_LOCK_DIR", str(base / "locks"))
    monkeypatch.setenv("PYBOFH_LOCK_DIR", str(base / "object-locks"))
    monkeypatch.setattr(settings, "SYSTEM_CONFIG", base / "etc-config.toml")
    settings.reset_settings()
    yield base / "journal"
    settings.reset_settings()


@pytest.fixture
def fake_runner() -> Iterator[FakeRunner]:
    """A FakeRunner active for the test: add replies with ``fake_runner.expect(argv, stdout)``; read ``.calls``."""
    runner = FakeRunner()
    with use_runner(runner):
        yield runner


def _loop_unusable() -> str | None:
    if os.geteuid() != 0:
        return "needs root to attach loop devices"
    if shutil.which("losetup", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        return "losetup is not installed"
    return None


@pytest.fixture
def loop_factory(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Make loop devices backed by sparse files in tmp_path: ``loop_factory(size_bytes) -> '/dev/loopN'``.

    Every loop made is unmounted (lazily if needed) and detached at teardown, even when the test failed.
    """
    reason = _loop_unusable()
    if reason:
        pytest.skip(reason)
    made: list[str] = []

    def make(size: int = 256 * 1024**2, *, name: str | None = None) -> str:
        backing = Path(tempfile.mkstemp(dir=tmp_path, prefix=name or "loop", suffix=".img")[1])
        with backing.open("r+b") as fh:
            fh.truncate(size)
        out = subprocess.run(
            ["losetup", "--find", "--show", str(backing)], check=True, capture_output=True, text=True
        ).stdout.strip()
        made.append(out)
        return out

    try:
        yield make
    finally:
        for dev in reversed(made):
            release_loop(dev)


def release_loop(dev: str) -> None:
    """Unmount everything on loop device ``dev`` (and its partitions) and detach it; never raises."""
    try:
        mounts = subprocess.run(["findmnt", "-rn", "-o", "SOURCE,TARGET"], capture_output=True, text=True).stdout
        for line in reversed(mounts.splitlines()):
            parts = line.split(" ", 1)
            if len(parts) == 2 and (parts[0] == dev or parts[0].startswith(dev + "p")):
                subprocess.run(["umount", "-l", parts[1].encode().decode("unicode_escape")], capture_output=True)
        # Partitions added with partx (no partscan flag) outlive the detach and would show up on the next device
        # attached to this loop number, which then looks "in use".
        subprocess.run(["partx", "-d", dev], capture_output=True)
        subprocess.run(["losetup", "-d", dev], capture_output=True)
    except OSError:
        pass


@dataclass(frozen=True)
class BofhRun:
    """What one in-process ``bofh`` invocation did: its exit code and what it printed."""

    code: int
    out: str
    err: str


class BofhCommand:
    """The ``bofh`` fixture: ``bofh(*argv)`` runs the command in this process through ``main()`` (one-line errors,
    exit codes) with the current runner and returns a :class:`BofhRun`; ``bofh.ok(*argv)`` also requires exit 0
    and returns what it printed on stdout."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *argv: str) -> BofhRun:
        from .cli import main

        self._capsys.readouterr()  # only what this invocation prints
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = self._capsys.readouterr()
        return BofhRun(code, out, err)

    def ok(self, *argv: str) -> str:
        """Run ``bofh ARGV``; it must exit 0. Its stdout."""
        done = self(*argv)
        assert done.code == 0, f"bofh {' '.join(argv)} exited {done.code}: {done.err.strip()}"
        return done.out


@pytest.fixture
def bofh(capsys: pytest.CaptureFixture[str]) -> BofhCommand:
    """Run ``bofh ARGV`` in this process as the command would: ``bofh(*argv)`` or ``bofh.ok(*argv)``."""
    return BofhCommand(capsys)
