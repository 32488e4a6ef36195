"""Fixtures shared by the core's and the plugins' tests: isolated settings and journal, fake runner, corpus, loops."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_core.runner import FakeRunner, use_runner
from pybofh_core.settings import reset_settings

ROOT = Path(__file__).resolve().parent

# The VM test bed: needs_dm / vm_pair tests run inside a qemu guest when this kernel has no device-mapper.
pytest_plugins = ["tests.vm.pytest_vm"]


def corpus_dir() -> Path | None:
    """The shared corpus of real tool outputs (``../shared/corpus`` beside the checkout, or ``$PYBOFH_CORPUS``)."""
    env = os.environ.get("PYBOFH_CORPUS")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "corpus", ROOT.parent.parent / "shared" / "corpus"]
    for c in candidates:
        if (c / "README.md").is_file():
            return c
    return None


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own journal dir and ignores the user's and the system's config files."""
    base = tmp_path_factory.mktemp("pybofh")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("PYBOFH_JOURNAL_DIR", str(base / "journal"))
    monkeypatch.setenv("PYBOFH_MOUNTPOOL_LOCK_DIR", str(base / "locks"))
    monkeypatch.setenv("PYBOFH_LOCK_DIR", str(base / "object-locks"))
    monkeypatch.setattr("pybofh_core.settings.SYSTEM_CONFIG", base / "etc-config.toml")
    reset_settings()
    yield base / "journal"
    reset_settings()


@pytest.fixture
def journal_dir(_isolated_settings: Path) -> Path:
    """The journal directory this test's atomic blocks write to."""
    return _isolated_settings


@pytest.fixture
def fake_runner() -> Iterator[FakeRunner]:
    """A FakeRunner active for the test: add replies with ``fake_runner.expect(argv, stdout)``; read ``.calls``."""
    runner = FakeRunner()
    with use_runner(runner):
        yield runner


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus directory; tests using it skip with a reason when it is absent."""
    path = corpus_dir()
    if path is None:
        pytest.skip("the shared corpus (../shared/corpus or $PYBOFH_CORPUS) is not present in this checkout")
    return path


def _can_use_loop() -> str | None:
    if os.geteuid() != 0:
        return "needs root to attach loop devices"
    if shutil.which("losetup", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        return "losetup is not installed"
    return None


@pytest.fixture
def loop_factory(tmp_path: Path) -> Iterator[object]:
    """Make loop devices backed by sparse files in tmp_path: ``loop_factory(size_bytes) -> '/dev/loopN'``.

    Every loop made is unmounted (lazily if needed) and detached at teardown, even when the test failed.
    """
    reason = _can_use_loop()
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
            _release_loop(dev)


def _release_loop(dev: str) -> None:
    """Unmount everything on ``dev`` (and its partitions) and detach it; never raises."""
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
