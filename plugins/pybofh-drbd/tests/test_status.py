"""pybofh-drbd's ``bofh status`` section: resources that are up with roles, disk and peer states, from real
recordings (8.4.11 /proc/drbd and drbdadm dump from the VM guests; a DRBD 9 ``status --json`` corpus sample)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_core.runner import FakeRunner
from pybofh_drbd import facts
from pybofh_drbd.bofh_status import sections
from pybofh_drbd.types import ProcDrbd

K = "8.4.11"
CAT = ["cat", "/proc/drbd"]


def test_84_minors_named_from_the_configuration(fake_runner: FakeRunner, rec: Any) -> None:
    """/proc/drbd (a resync at 4.2 %) gives the states, one ``drbdadm dump`` the resource name of minor 0."""
    fake_runner.expect(CAT, rec("proc_drbd", f"syncsource_primary-{K}.txt"))
    fake_runner.expect(["drbdadm", "dump"], rec("drbdadm", f"dump_r0-guest-9.22.0-k{K}.txt"))
    (sec,) = sections()
    assert sec.rows == [{"resource": "r0", "role": "Primary", "minors": [0], "disk": "UpToDate",
                         "peer_role": "Secondary", "connection": "SyncSource", "peer_disk": "Inconsistent",
                         "sync_percent": 4.2, "peers": []}]
    assert "  r0        Primary  0       UpToDate  Secondary  SyncSource  Inconsistent  4.2" in sec.render_text()


def test_84_without_a_readable_configuration_still_shows_states(fake_runner: FakeRunner, rec: Any) -> None:
    fake_runner.expect(CAT, rec("proc_drbd", f"synced_secondary-{K}.txt"))
    fake_runner.expect(["drbdadm", "dump"], stderr=b"no resources defined!\n", returncode=1)
    (sec,) = sections()
    ((row),) = sec.rows
    assert (row["resource"], row["minors"], row["role"], row["sync_percent"]) == (None, [0], "Secondary", 100.0)


def test_module_loaded_without_resources(fake_runner: FakeRunner, rec: Any) -> None:
    fake_runner.expect(CAT, rec("proc_drbd", f"loaded-no-resources-{K}.txt"))
    fake_runner.expect(["drbdadm", "dump"], stderr=b"no resources defined!\n", returncode=1)
    (sec,) = sections()
    assert (sec.status, sec.rows) == ("ok", [])


def test_no_module_is_unavailable(fake_runner: FakeRunner, rec: Any) -> None:
    """Recorded on a host without the module: ``cat /proc/drbd`` fails; the section says so."""
    fake_runner.expect(CAT, returncode=1, stderr=rec("cat", "cat_proc-drbd_no-module-exit1-9.1.stderr.txt"))
    (sec,) = sections()
    assert sec.status == "unavailable" and "the drbd kernel module is not loaded" in (sec.unavailable or "")


def test_9_reads_every_resource_in_one_call(fake_runner: FakeRunner, corpus: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """DRBD 9 (no real 9.x /proc/drbd is recorded here: the typed value is set): one ``drbdsetup status --json``."""
    monkeypatch.setattr(facts, "read_proc_drbd", lambda: ProcDrbd("9.2.15", "2", "86-122", None))
    sample = corpus / "drbd" / "drbdsetup_status_json_drbd9_sle15sp1_4-resources_ha-cluster-exporter.json"
    fake_runner.expect(["drbdsetup", "status", "--json"], sample.read_bytes())
    (sec,) = sections()
    assert [r["resource"] for r in sec.rows] == ["1-single-0", "1-single-1", "vg1", "vg2", "vg3"]
    assert {(r["role"], r["peer_role"], r["connection"], r["sync_percent"]) for r in sec.rows} == {
        ("Secondary", "Primary", "Connected", 100.0)}
    assert len(fake_runner.calls) == 1
