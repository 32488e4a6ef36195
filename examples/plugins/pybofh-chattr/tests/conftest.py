"""pybofh-chattr's fixtures, on top of the ones pybofh-core ships (``pybofh_core.testing``: ``fake_runner``,
``bofh``, ``loop_factory``, ``pybofh_isolated``); nothing else from pybofh's own test suite is used."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from chattr_fakes import PLAIN, FakeFile

from pybofh_core.runner import FakeRunner

# Run from a checkout without installing the plugin: load it as a site plugin (``name=module``), as pybofh-core
# documents for plugins that are not packaged. Installed, its entry point finds it and this does nothing.
if not any(ep.name == "chattr" for ep in entry_points(group="pybofh.plugins")):
    os.environ.setdefault("PYBOFH_EXTRA_PLUGINS", "chattr=pybofh_chattr")


@pytest.fixture(autouse=True)
def _isolated(pybofh_isolated: Path) -> Iterator[Path]:
    """Own journal, lock and config directories for every test."""
    yield pybofh_isolated


@pytest.fixture
def fake_file(fake_runner: FakeRunner) -> Callable[..., FakeFile]:
    """``fake_file("/srv/f", flags)``: a file the fake runner knows, with lsattr/chattr replies that keep state."""
    return lambda path, flags=PLAIN, generation=4242: FakeFile(fake_runner, path, flags, generation)


@pytest.fixture
def tmpfs_dir(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of this test's own, mounted on a temp dir and unmounted at teardown (root needed): attributes, but
    no inode generation. Never a system tmpfs such as /dev/shm."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    mountpoint = tmp_path / "tmpfs"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "pybofh-chattr-test", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["chattr", "-R", "-i", "-a", "--", str(mountpoint)], capture_output=True)
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


@pytest.fixture
def ext4_dir(loop_factory: Callable[..., str], tmp_path: Path) -> Path:
    """A fresh ext4 on a real loop device, mounted on a temp dir. ``loop_factory`` unmounts it and detaches the
    loop device at teardown, also when the test failed."""
    device = loop_factory(64 * 1024**2)
    subprocess.run(["mkfs.ext4", "-q", "-F", device], check=True, capture_output=True)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "ext4", device, str(mountpoint)], check=True, capture_output=True)
    return mountpoint
