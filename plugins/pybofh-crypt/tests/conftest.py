"""Fixtures of the crypt plugin's tests: recorded cryptsetup outputs and a checker for parsed LUKS headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.testing import Recording, Recordings

RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")
VERSION = "2.6.1"


def load(case: str, version: str = VERSION, tool: str = "cryptsetup") -> Recording:
    """Read recording ``<tool>/<case>-<version>`` (its ``stdout``, ``stderr`` and ``returncode``)."""
    return RECORDINGS.get(tool, case, version)


@pytest.fixture
def rec() -> Callable[..., Recording]:
    """``rec("luksDump-luks2")`` → the recorded stdout/stderr/returncode of that case."""
    return load


def _field(obj: Any, key: str) -> Any:
    if key == "free_keyslot":
        return obj.free_keyslot()
    value = getattr(obj, key)
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "value") and not isinstance(value, (int, str)):
        return value.value
    return int(value) if key == "version" else value


def check_luks(result: Any, expect: dict[str, Any]) -> None:
    """Assert the listed fields of a parsed header, and that keyslots/segments/digests/tokens match by index.

    A list given for keyslots (etc.) names exactly the result's active entries; each entry's listed fields must match.
    """
    for key, want in expect.get("fields", {}).items():
        assert _field(result, key) == want, f"{key}: {_field(result, key)!r} != {want!r}"
    for group in ("keyslots", "segments", "digests", "tokens"):
        if group not in expect:
            continue
        items = [i for i in getattr(result, group) if getattr(i, "active", True)]
        assert [i.index for i in items] == [e["index"] for e in expect[group]], f"{group} indexes"
        for item, want in zip(items, expect[group], strict=True):
            for key, value in want.items():
                assert _field(item, key) == value, f"{group}[{item.index}].{key}: {_field(item, key)!r} != {value!r}"


@pytest.fixture
def luks_check() -> Callable[[Any, dict[str, Any]], None]:
    """The :func:`check_luks` assertion helper."""
    return check_luks


def _host_has_dm() -> bool:
    """Whether this kernel has device-mapper (the same test as the VM test bed's)."""
    try:
        return any(ln.split()[1:] == ["device-mapper"] for ln in Path("/proc/misc").read_text().splitlines())
    except (OSError, IndexError):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this plugin's needs_dm tests on a host without device-mapper when the VM test bed plugin is not loaded.

    (When it is loaded, it runs them in the guest; inside the guest, PYBOFH_IN_VM=1, they simply run.)
    """
    import os

    if os.environ.get("PYBOFH_IN_VM") == "1" or _host_has_dm() or config.pluginmanager.get_plugin("pybofh-vm-testbed"):
        return
    here = Path(__file__).resolve().parent
    skip = pytest.mark.skip(reason="needs device-mapper, which this kernel lacks, and the VM test bed plugin "
                            "(tests/vm/pytest_vm.py) is not loaded: run python3 tests/vm/run.py -- python3 -m pytest "
                            "-m needs_dm plugins/pybofh-crypt/tests")
    for item in items:
        if item.get_closest_marker("needs_dm") and Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(skip)
