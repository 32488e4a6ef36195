"""The recording scripts write the one format, without DRBD, a VM or root: ``record_host.py`` (modinfo noise out
of stderr, and said so), ``record_vm.py`` (the ``-exitN`` cases keep stderr after stdout, as the tests replay
them), ``record_checks.py`` (compiles; it needs a real loop device)."""

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
    spec = importlib.util.spec_from_file_location(f"pybofh_drbd_{name}_script", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_host_drops_modinfo_noise_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = _script("record_host", monkeypatch)
    assert host.without_noise(b"modinfo: ERROR: Module drbd not found.\nreal\n") == (b"real\n", True)
    assert host.without_noise(b"real\n") == (b"real\n", False)
    monkeypatch.setattr(host, "REC", tmp_path)
    conf = tmp_path / "cfg"
    proc = subprocess.CompletedProcess(["drbdadm", "-c", f"{conf}/r0-v9.res", "-d", "up", "r0"], 0, b"drbdsetup\n",
                                       b"modinfo: ERROR: Module drbd not found.\n")
    host.save("drbdadm", "dry-run_up-v9", "9.22.0", proc, conf)
    rec = load_recording(tmp_path / "drbdadm" / "dry-run_up-v9-9.22.0.meta.json")
    assert (rec.argv, rec.stdout, rec.stderr, rec.where) == (
        ["drbdadm", "-c", "$TMP/r0-v9.res", "-d", "up", "r0"], b"drbdsetup\n", b"", "host")
    assert rec.note == host.DROPPED and rec.filled_argv() == proc.args


def test_vm_keeps_each_stream_or_both_in_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vm = _script("record_vm", monkeypatch)
    monkeypatch.setattr(vm, "REC", tmp_path)
    res = vm.Result(("drbdadm", "status", "r0"), 10, b"", b"r0: No such resource\n")
    vm.save("drbdadm", "status_r0-down-exit10", "9.22.0-k8.4.11", res, merged=True)
    vm.save("drbdadm", "status_r0-apart", "9.22.0-k8.4.11", res)
    merged = load_recording(tmp_path / "drbdadm" / "status_r0-down-exit10-9.22.0-k8.4.11.meta.json")
    assert (merged.argv, merged.returncode, merged.stdout, merged.stderr, merged.where) == (
        ["drbdadm", "status", "r0"], 10, b"r0: No such resource\n", b"", "vm")
    assert merged.note == vm.MERGED
    apart = load_recording(tmp_path / "drbdadm" / "status_r0-apart-9.22.0-k8.4.11.meta.json")
    assert (apart.stdout, apart.stderr) == (b"", b"r0: No such resource\n")


def test_the_checks_script_compiles() -> None:
    compile((HERE / "record_checks.py").read_text(), str(HERE / "record_checks.py"), "exec")
