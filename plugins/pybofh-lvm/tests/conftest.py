"""Fixtures of pybofh-lvm's tests: recorded real outputs, real block-device nodes for validation, the dm check."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.runner import FakeRunner
from pybofh_core.testing import Recording, Recordings
from pybofh_lvm import facts

RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")


@pytest.fixture
def rec() -> Callable[[str, str], Recording]:
    """``rec("lvs", "two-lvs-unknown")``: the recording of that case (any LVM version; the newest if several)."""
    return RECORDINGS.get


def _block_node(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


@pytest.fixture
def block_nodes() -> Callable[..., list[str]]:
    """Existing block device nodes (``/dev/loopN``) for argument validation; nothing is run on them."""

    def get(*names: str) -> list[str]:
        missing = [n for n in names if not _block_node(n)]
        if missing:
            pytest.skip(f"block device nodes {missing} do not exist here (needed only to pass path validation)")
        return list(names)

    return get


def has_device_mapper() -> bool:
    """Whether this kernel has device-mapper (``/dev/mapper/control`` may exist without it)."""
    try:
        return "device-mapper" in Path("/proc/misc").read_text()
    except OSError:
        return False



@pytest.fixture(name="lvs_with")
def lvs_with_fixture() -> Callable[..., bytes]:
    """:func:`lvs_with` as a fixture (test modules cannot import this conftest by name)."""
    return lvs_with


def lvs_with(base: Recording, name: str, size: int, *, like: str = "data") -> bytes:
    """``base`` (a real ``lvs`` recording) with one more LV ``name`` of ``size`` bytes, shaped like its LV ``like``.

    For fake-runner tests whose operation reads back an LV no recording has (a create followed by ``lvs``): every
    field but the name, paths, size and a UUID derived from the name is the recorded LV's own.
    """
    import hashlib

    doc = json.loads(base.stdout)
    lvs = doc["report"][0]["lv"]
    template = next(lv for lv in lvs if lv["lv_name"] == like)
    h = hashlib.sha256(name.encode()).hexdigest()
    uuid = "-".join((h[:6], h[6:10], h[10:14], h[14:18], h[18:22], h[22:26], h[26:32]))
    vg = template["vg_name"]
    lvs.append({**template, "lv_uuid": uuid, "lv_name": name, "lv_size": str(size), "lv_path": f"/dev/{vg}/{name}",
                "lv_dm_path": f"/dev/mapper/{vg}-{name.replace('-', '--')}"})
    return json.dumps(doc).encode()


@pytest.fixture
def reports(fake_runner: FakeRunner, rec: Callable[..., Any]) -> FakeRunner:
    """pvs/vgs/lvs answer with the host recordings of two LVs in a two-PV VG (for the CLI tests)."""
    for tool, case, argv in (("pvs", "two-pvs-in-vg", facts.pvs_argv()), ("vgs", "two-pvs-two-lvs", facts.vgs_argv()),
                             ("lvs", "two-lvs-unknown", facts.lvs_argv())):
        r = rec(tool, case)
        fake_runner.expect(argv, r.stdout, stderr=r.stderr)
    fake_runner.paths = {"/dev/loop0": "block", "/dev/loop1": "block", "/dev/sdz": "block"}  # not this host's /dev
    return fake_runner
