"""Fixtures of the crypt plugin's tests: recorded cryptsetup outputs and a checker for parsed LUKS headers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REC = Path(__file__).resolve().parent / "recordings" / "cryptsetup"
VERSION = "2.6.1"


@dataclass(frozen=True)
class Recording:
    """One recorded cryptsetup run: stdout, stderr and exit code."""

    stdout: bytes
    stderr: bytes
    rc: int


def load(case: str, version: str = VERSION) -> Recording:
    """Read recording ``<case>-<version>`` (missing stdout/stderr files mean the stream was empty)."""
    base = REC / f"{case}-{version}"
    out, err, rc = (Path(f"{base}{s}") for s in (".txt", ".stderr.txt", ".rc"))
    if not (out.exists() or err.exists()):
        raise FileNotFoundError(f"no recording {base.name}")
    return Recording(
        out.read_bytes() if out.exists() else b"",
        err.read_bytes() if err.exists() else b"",
        int(rc.read_text()) if rc.exists() else 0,
    )


@pytest.fixture
def rec() -> Callable[..., Recording]:
    """``rec("luksDump-luks2")`` → the recorded stdout/stderr/rc of that case."""
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
