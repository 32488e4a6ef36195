"""The recording scripts (``record.py``, ``record_dmsetup.py``) write the one format, without cryptsetup or root:
argv from the command run, outputs verbatim, host or vm, a re-recording keeps the hand-checked expectations."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pybofh_core.testing import load_recording

HERE = Path(__file__).resolve().parent


def _script(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script's sys.path change is undone after the test
    spec = importlib.util.spec_from_file_location(f"pybofh_crypt_{name}_script", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_record_keeps_argv_outputs_and_the_earlier_expectation(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    record = _script("record", monkeypatch)
    monkeypatch.setattr(record, "OUT", [tmp_path / "rec"])  # as with --out /tmp/rec
    monkeypatch.setattr(record, "WHERE", ["vm"])  # as with --guest
    proc = subprocess.CompletedProcess(["cryptsetup", "luksDump", "/dev/loop3"], 0, b"LUKS header\n", b"")
    record.save("luksDump-luks2", proc, "2.6.1")
    rec = load_recording(tmp_path / "rec" / "luksDump-luks2-2.6.1.meta.json")
    assert (rec.argv, rec.returncode, rec.stdout, rec.stderr, rec.where) == (
        ["cryptsetup", "luksDump", "/dev/loop3"], 0, b"LUKS header\n", b"", "vm")
    assert rec.expected == load_recording(record.KEPT / "luksDump-luks2-2.6.1.meta.json").expected
    assert rec.expected["parser"] == "luksDump"
    assert record.previous_expected(record.KEPT, "no-such-case", "2.6.1") is None


def test_record_only_writes_the_cases_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _script("record", monkeypatch)
    monkeypatch.setattr(record, "OUT", [tmp_path / "cryptsetup"])
    monkeypatch.setattr(record, "ONLY", {"status-luks1"})
    record.save("status-luks2", subprocess.CompletedProcess(["cryptsetup", "status", "x"], 4, b"", b"no\n"), "9.9")
    assert not (tmp_path / "cryptsetup").exists()


def test_record_dmsetup_writes_expected_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dm = _script("record_dmsetup", monkeypatch)
    monkeypatch.setattr(dm, "OUT", [tmp_path / "dmsetup"])
    proc = subprocess.CompletedProcess(dm.INFO, 1, b"", b"/dev/mapper/control: open failed\n")
    dm.save("info-no-device-mapper", proc, "1.02.185")
    dm.save("info-x", subprocess.CompletedProcess(dm.INFO, 0, b"row\n", b""), "1.02.185", {"m": {"type": "PLAIN"}},
            {"plain": "/dev/loop2"})
    failed = load_recording(tmp_path / "dmsetup" / "info-no-device-mapper-1.02.185.meta.json")
    assert (failed.argv, failed.returncode, failed.stdout, failed.where) == (dm.INFO, 1, b"", "host")
    listed = load_recording(tmp_path / "dmsetup" / "info-x-1.02.185.meta.json")
    assert (listed.expected, listed.paths) == ({"m": {"type": "PLAIN"}}, {"plain": "/dev/loop2"})
