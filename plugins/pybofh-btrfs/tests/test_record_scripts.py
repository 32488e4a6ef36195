"""The recording scripts' pure parts (``recordings/record.py``; record_more.py and record_checks.py write through
its ``save``): argv templating and the recordings they write, without btrfs-progs or root."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pybofh_core.testing import Recordings, load_recording

REC = Path(__file__).resolve().parent / "recordings"


def _script(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``recordings/record.py`` as a module (its sys.path change undone after the test)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    return _script(REC / "record.py", "pybofh_btrfs_record_script")


def test_templated_is_the_inverse_of_filled_argv(record: ModuleType) -> None:
    """Every kept recording with ``paths`` gets its argv back from the real one (longest path first: $MNT2, $BASE)."""
    kept = [r for r in Recordings(REC).all("btrfs") if r.paths]
    assert len(kept) >= 20
    for rec in kept:
        assert record.templated(rec.filled_argv(), rec.paths) == rec.argv, rec.name
    assert record.templated(["x", "/t/mnt2/a", "/t/mnt", "/t/s"], {"TMP": "/t", "MNT": "/t/mnt", "MNT2": "/t/mnt2"}) \
        == ["x", "$MNT2/a", "$MNT", "$TMP/s"]


def test_save_writes_the_one_format(record: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the scripts write reads back through the loader: argv templated, paths kept, outputs verbatim."""
    monkeypatch.setattr(record, "HERE", tmp_path / "btrfs")
    res = subprocess.CompletedProcess(["btrfs", "subvolume", "show", "--", "/b/mnt/data"], 1, b"", b"\xff no\n")
    sidecar = record.save("subvolume_show_x", "6.2", res, {"BASE": "/b", "MNT": "/b/mnt"}, "recorded by test")
    rec = load_recording(sidecar)
    assert sidecar == tmp_path / "btrfs" / "subvolume_show_x-6.2.meta.json"
    assert (rec.argv, rec.returncode, rec.stdout, rec.stderr) == (
        ["btrfs", "subvolume", "show", "--", "$MNT/data"], 1, b"", b"\xff no\n")
    assert rec.filled_argv() == res.args and rec.note == "recorded by test"


@pytest.mark.parametrize("name", ["record.py", "record_more.py", "record_checks.py"])
def test_the_scripts_compile(name: str) -> None:
    compile((REC / name).read_text(), str(REC / name), "exec")
