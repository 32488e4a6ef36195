"""``bofh drbd`` through the real root command with a fake runner, and the layer hooks (probe_device/probe_layer)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from pybofh_core.cli import app as root_app
from pybofh_core.runner import FakeRunner
from pybofh_drbd import pybofh_probe_device, pybofh_probe_layer
from pybofh_drbd.layers import DrbdBacking, DrbdDevice, internal_md_bytes

K = "8.4.11"


def bofh(*args: str) -> Any:
    """Invoke ``bofh ARGS`` in-process (plugin sub-apps are found through discovery, as in production)."""
    from pybofh_core.cli import hoist_global_flags

    return CliRunner().invoke(root_app, hoist_global_flags(list(args)), catch_exceptions=False)


def expect_status(runner: FakeRunner, rec: Any, *stages: str) -> None:
    """sh-minor r0 → 0; /proc/drbd answers the stages in order (the last one repeats)."""
    runner.expect(["drbdadm", "sh-minor", "r0"], rec("drbdadm", f"sh-minor_r0-guest-9.22.0-k{K}.txt"))
    runner.expect(["cat", "/proc/drbd"], rec("proc_drbd", f"{stages[-1]}-{K}.txt"))
    for stage in reversed(stages[:-1]):
        runner.expect(["cat", "/proc/drbd"], rec("proc_drbd", f"{stage}-{K}.txt"), times=1)


def test_cli_status_table_and_json(fake_runner: FakeRunner, rec: Any) -> None:
    """``bofh drbd status`` lists this host's resources (sh-resources) with role, disk, peers and sync."""
    fake_runner.expect(["drbdadm", "sh-resources"], rec("drbdadm", f"sh-resources_guest-9.22.0-k{K}.txt"))
    expect_status(fake_runner, rec, "syncsource_primary")
    res = bofh("drbd", "status")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["RESOURCE", "ROLE", "DISK", "MINOR", "PEERS", "SYNCED"]
    assert lines[1].split() == ["r0", "Primary", "UpToDate", "0", "-:SyncSource/Secondary/Inconsistent", "4.2%"]
    res = bofh("drbd", "status", "r0", "--json")
    data = json.loads(res.output)
    assert data[0]["name"] == "r0" and data[0]["sync_percent"] == 4.2 and data[0]["synced"] is False
    assert data[0]["connections"][0]["volumes"][0]["progress"]["remaining_bytes"] == 95704 * 1024


def test_cli_up_down_primary_secondary(fake_runner: FakeRunner, rec: Any) -> None:
    """Each command calls its operation (argv checked) and prints its result."""
    fake_runner.expect(["drbdadm", "sh-resources"], rec("drbdadm", f"sh-resources_guest-9.22.0-k{K}.txt"))
    expect_status(fake_runner, rec, "connected_secondary")
    for verb in ("up", "down", "secondary"):
        fake_runner.expect(["drbdadm", verb, "r0"])
    fake_runner.expect(["drbdadm", "primary", "--force", "r0"])
    assert bofh("drbd", "up", "r0").exit_code == 0
    assert bofh("drbd", "primary", "--authoritative", "r0").exit_code == 0
    out = bofh("drbd", "secondary", "r0", "--json").output
    assert json.loads(out) == {"resource": "r0", "previous": "Secondary", "current": "Secondary"}
    assert bofh("drbd", "down", "r0").exit_code == 0
    mutating = [c for c in fake_runner.calls if c[0] == "drbdadm" and c[1] in ("up", "down", "primary", "secondary")]
    assert mutating == [("drbdadm", "up", "r0"), ("drbdadm", "primary", "--force", "r0"),
                        ("drbdadm", "secondary", "r0"), ("drbdadm", "down", "r0")]


def test_cli_bad_name_exit_2(fake_runner: FakeRunner, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad input through the real entry point: exit code 2, one error line naming the problem, nothing run."""
    from pybofh_core.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["drbd", "up", "--", "-x"])
    assert exit_info.value.code == 2
    assert "starts with '-'" in capsys.readouterr().err
    assert fake_runner.calls == []


def test_cli_wait_sync_progress_bar(fake_runner: FakeRunner, rec: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``bofh drbd wait-sync`` polls until synced; without a terminal it logs each new percentage on stderr."""
    expect_status(fake_runner, rec, "connected_inconsistent", "syncsource_primary", "synced_primary")
    monkeypatch.setattr("time.sleep", lambda s: None)
    res = CliRunner().invoke(root_app, ["drbd", "wait-sync", "r0", "--poll", "0.01", "--timeout", "30"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == ["r0 sync: 4.2%", "r0 sync: 100.0%"]
    assert res.stdout.splitlines()[1].split() == ["r0", "Primary", "UpToDate", "0", "-:Connected/Secondary/UpToDate",
                                                  "100.0%"]


def test_probe_device_for_drbd_minor(fake_runner: FakeRunner, rec: Any) -> None:
    """/dev/drbdN is a DrbdDevice opening to itself; its resize finds the resource in drbdadm dump."""
    assert pybofh_probe_device("/dev/sda") is None
    assert pybofh_probe_device("/dev/drbd") is None
    layer = pybofh_probe_device("/dev/drbd2")
    assert isinstance(layer, DrbdDevice) and layer.minor == 2 and layer.open() == "/dev/drbd2"
    assert layer.granularity == 4096 and layer.container
    assert fake_runner.calls == []  # probing itself runs nothing
    fake_runner.expect(["drbdadm", "dump"], rec("drbdadm", "dump_multi-v9-9.22.0.txt"))
    assert layer.resource == "r1"
    drbd0 = pybofh_probe_device("/dev/drbd0")
    assert drbd0 is not None
    fake_runner.expect(["cat", "/sys/block/drbd0/size"], rec("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    assert drbd0.current_size() == 196528 * 512


def test_probe_layer_for_drbd_metadata(fake_runner: FakeRunner, rec: Any) -> None:
    """blkid TYPE=drbd (recorded on the guest's LV) → DrbdBacking; open() brings the resource up → /dev/drbd0."""
    probe = dict(line.split("=", 1) for line in rec("blkid", f"probe_export_drbd-meta-{K}.txt").decode().split())
    assert pybofh_probe_layer("/dev/sdb", {"TYPE": "ext4"}) is None
    layer = pybofh_probe_layer(probe["DEVNAME"], probe)
    assert isinstance(layer, DrbdBacking) and layer.version == "v08"
    fake_runner.expect(["drbdadm", "dump"], rec("drbdadm", f"dump_r0-guest-9.22.0-k{K}.txt"))
    fake_runner.expect(["drbdadm", "sh-resources"], rec("drbdadm", f"sh-resources_guest-9.22.0-k{K}.txt"))
    expect_status(fake_runner, rec, "after-down", "connected_inconsistent")
    fake_runner.expect(["drbdadm", "up", "r0"])
    assert layer.resource == "r0"
    assert layer.open() == "/dev/drbd0"
    assert ("drbdadm", "up", "r0") in fake_runner.calls
    assert layer.inner == "/dev/drbd0"


def test_internal_metadata_estimate() -> None:
    """Internal metadata: 8 sectors per 128 MiB (rounded up) + 72; the 96 MiB guest LV gives 80 sectors."""
    assert internal_md_bytes(96 * 1024 * 1024) == (8 + 72) * 512
    assert internal_md_bytes(1024**3) == (8 * 8 + 72) * 512
    # measured in the guest: the 96 MiB LV (100663296 bytes) gave a 100622336-byte /dev/drbd0
    assert 100663296 - 100622336 == internal_md_bytes(96 * 1024 * 1024)


def test_primary_force_is_the_deprecated_name_of_authoritative(fake_runner: FakeRunner, rec: Any) -> None:
    """DRBD's own --force got a name of its own (pybofh's --force overrides data checks): the old CLI flag and
    ``force=`` still promote authoritatively, with a deprecation warning; without either, no ``--force`` reaches
    drbdadm."""
    from pybofh_drbd import ops

    fake_runner.expect(["drbdadm", "sh-resources"], rec("drbdadm", f"sh-resources_guest-9.22.0-k{K}.txt"))
    expect_status(fake_runner, rec, "connected_secondary")
    fake_runner.expect(["drbdadm", "primary", "--force", "r0"])
    fake_runner.expect(["drbdadm", "primary", "r0"])
    result = CliRunner().invoke(root_app, ["drbd", "primary", "--force", "r0"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "'drbd primary --force' is now --authoritative" in result.stderr
    with pytest.warns(DeprecationWarning, match="authoritative="):
        ops.primary("r0", force=True)
    ops.primary("r0")
    primaries = [c for c in fake_runner.calls if c[:2] == ("drbdadm", "primary")]
    assert primaries == [("drbdadm", "primary", "--force", "r0")] * 2 + [("drbdadm", "primary", "r0")]
