"""``tests/xen_vm/boot_xen.py``'s recording part, without a nested Xen: the version in the names read from
``xl info``, each step's argv the command its dom0 script runs, and the side-cars it writes the kept ones."""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pybofh_core.testing import Recordings

ROOT = Path(__file__).resolve().parents[3]
NESTED = Path(__file__).resolve().parent / "recordings" / "xl-nested"


@pytest.fixture
def boot_xen(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as a module (its sys.path change undone after the test)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("pybofh_boot_xen_script", ROOT / "tests" / "xen_vm" / "boot_xen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_version_comes_from_xl_info(boot_xen: ModuleType) -> None:
    assert boot_xen.xen_version((NESTED / "info-4.17.7.txt").read_bytes()) == "4.17.7"
    assert boot_xen.xen_version(b"xen_version : unknown\n") == "4.17"


def test_each_recorded_step_runs_its_argv(boot_xen: ModuleType) -> None:
    recorded = {name: (script, argv) for name, script, argv, _ in boot_xen.STEPS if argv is not None}
    assert set(recorded) == {r.case for r in Recordings(NESTED.parent).all("xl-nested")}
    for script, argv in recorded.values():
        assert script.endswith(f"LC_ALL=C {shlex.join(argv)}") or argv == ["sh", "-ec", script]


def test_saving_the_kept_outputs_gives_the_kept_side_cars(boot_xen: ModuleType, tmp_path: Path) -> None:
    """Re-writing every kept xl-nested recording from its step gives its side-car byte for byte (destroy-tiny,
    recorded before side-cars kept argv, now gets the shell command it runs)."""
    steps = {name: (argv, note) for name, _, argv, note in boot_xen.STEPS if argv is not None}
    for kept in Recordings(NESTED.parent).all("xl-nested"):
        argv, note = steps[kept.case]
        res = boot_xen.Result(tuple(argv), kept.returncode, kept.stdout, kept.stderr)
        written = boot_xen.save(tmp_path / "xl-nested", kept.case, kept.version, argv, res, note)
        if kept.argv is None:
            assert {**json.loads(written.read_text()), "argv": None} == json.loads(kept.path.read_text())
        else:
            assert written.read_bytes() == kept.path.read_bytes(), kept.name
