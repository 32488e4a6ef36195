"""Readers with a fake runner replaying real recordings: status on 8.4 and 9, wait_synced, config facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_core.errors import CommandError, ValidationError
from pybofh_core.runner import FakeRunner
from pybofh_drbd import facts
from pybofh_drbd.errors import (
    DrbdUnavailableError,
    ResourceDownError,
    ResourceNotFoundError,
    SyncImpossibleError,
    SyncTimeoutError,
)
from pybofh_drbd.types import DiskState, ProcDrbd, Role

K = "8.4.11"
CAT = ["cat", "/proc/drbd"]
SH_MINOR = ["drbdadm", "sh-minor", "r0"]


def expect_84(runner: FakeRunner, rec: Any, *stages: str) -> None:
    """/proc/drbd answers the given stages in order (the last one repeats), sh-minor answers 0."""
    runner.expect(SH_MINOR, rec("drbdadm", f"sh-minor_r0-guest-9.22.0-k{K}.txt"))
    runner.expect(CAT, rec("proc_drbd", f"{stages[-1]}-{K}.txt"))
    for stage in reversed(stages[:-1]):
        runner.expect(CAT, rec("proc_drbd", f"{stage}-{K}.txt"), times=1)


def test_status_84_from_proc(fake_runner: FakeRunner, rec: Any) -> None:
    """DRBD 8.4: the minor from sh-minor is looked up in /proc/drbd and typed."""
    expect_84(fake_runner, rec, "synctarget_secondary")
    st = facts.status("r0")
    assert (st.name, st.role, st.minors) == ("r0", Role.SECONDARY, [0])
    assert st.volumes[0].disk is DiskState.INCONSISTENT
    (conn,) = st.connections
    assert conn.peer_role is Role.PRIMARY and conn.volumes[0].sync_percent == 12.5
    assert fake_runner.calls == [tuple(CAT), tuple(SH_MINOR)]


def test_status_84_down(fake_runner: FakeRunner, rec: Any) -> None:
    """Minor 0 not in /proc/drbd: the resource is down (typed, also a NotFoundError)."""
    expect_84(fake_runner, rec, "after-down")
    with pytest.raises(ResourceDownError):
        facts.status("r0")
    assert facts.is_up("r0") is False


def test_status_unknown_resource_84(fake_runner: FakeRunner, rec: Any) -> None:
    """drbdadm's 'not defined in your config' becomes ResourceNotFoundError."""
    fake_runner.expect(CAT, rec("proc_drbd", f"synced_primary-{K}.txt"))
    fake_runner.expect(["drbdadm", "sh-minor", "r9"], returncode=1,
                       stderr=rec("drbdadm", "sh-minor_undefined-exit1-9.22.0.stderr.txt"))
    with pytest.raises(ResourceNotFoundError):
        facts.status("r9")


@pytest.fixture
def drbd9(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the loaded module is DRBD 9: no real DRBD 9 /proc/drbd is recorded here, so the typed value is set."""
    monkeypatch.setattr(facts, "read_proc_drbd", lambda: ProcDrbd("9.2.15", "2", "86-122", None))


def test_status_9_uses_json(fake_runner: FakeRunner, corpus: Path, drbd9: None) -> None:
    """DRBD 9: ``drbdsetup status --json RES`` is read (a corpus sample, read in place)."""
    fake_runner.expect(["drbdsetup", "status", "--json", "beijing"],
                       (corpus / "drbd" / "drbdsetup_status_json_salt-shaptools.json").read_bytes())
    st = facts.status("beijing")
    assert (st.role, st.synced, st.minors) == (Role.PRIMARY, True, [5])


def test_status_9_down(fake_runner: FakeRunner, rec: Any, drbd9: None) -> None:
    """drbdsetup says 'r0: No such resource' (exit 10, recorded in the guest) for a resource that is not up."""
    fake_runner.expect(["drbdsetup", "status", "--json", "r0"], returncode=10,
                       stderr=rec("drbdadm", f"status_r0-down-exit10-9.22.0-k{K}.txt"))
    with pytest.raises(ResourceDownError):
        facts.status("r0")


def test_status_9_other_failure_is_a_command_error(fake_runner: FakeRunner, rec: Any, drbd9: None) -> None:
    """Any other failure (here 8.4's drbdsetup refusing --json, exit 20) stays a CommandError with its stderr."""
    fake_runner.expect(["drbdsetup", "status", "--json", "r0"], returncode=20,
                       stderr=rec("drbdsetup", f"status-json_r0-exit20-9.22.0-k{K}.txt"))
    with pytest.raises(CommandError, match="unrecognized option"):
        facts.status("r0")


def test_no_module(fake_runner: FakeRunner, rec: Any) -> None:
    """No /proc/drbd (module not loaded): DrbdUnavailableError naming the reason."""
    fake_runner.expect(CAT, returncode=1, stderr=rec("cat", "cat_proc-drbd_no-module-exit1-9.1.stderr.txt"))
    with pytest.raises(DrbdUnavailableError, match="kernel module"):
        facts.status("r0")


class Clock:
    """A fake monotonic clock that advances only when the code sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_wait_synced_reports_progress_until_synced(fake_runner: FakeRunner, rec: Any) -> None:
    """Polls: Inconsistent, then 4.2 % resync, then UpToDate on both sides; progress is handed to the callback."""
    expect_84(fake_runner, rec, "connected_inconsistent", "syncsource_primary", "synced_primary")
    clock = Clock()
    seen: list[float | None] = []
    final = facts.wait_synced("r0", 60, poll=2, on_progress=lambda st: seen.append(st.sync_percent),
                              sleep=clock.sleep, clock=clock)
    assert final.synced and final.role is Role.PRIMARY
    assert seen == [None, 4.2, 100.0]
    assert clock.sleeps == [2, 2]


def test_wait_synced_times_out(fake_runner: FakeRunner, rec: Any) -> None:
    """A resync that never finishes: SyncTimeoutError with the last percentage, after the timeout."""
    expect_84(fake_runner, rec, "syncsource_primary")
    clock = Clock()
    with pytest.raises(SyncTimeoutError, match=r"4\.2% done"):
        facts.wait_synced("r0", 5, poll=1, sleep=clock.sleep, clock=clock)
    assert clock.now == 5


def test_wait_synced_standalone_cannot_finish(fake_runner: FakeRunner, rec: Any) -> None:
    """StandAlone never resyncs: SyncImpossibleError at once, telling what to run."""
    expect_84(fake_runner, rec, "standalone_primary")
    with pytest.raises(SyncImpossibleError, match="drbdadm connect r0"):
        facts.wait_synced("r0", 60, poll=1, sleep=lambda s: None)


@pytest.mark.parametrize(("timeout", "poll"), [(-1, 1), (10, 0), (10, -2)])
def test_wait_synced_bad_arguments(fake_runner: FakeRunner, timeout: float, poll: float) -> None:
    """Negative timeouts and non-positive poll intervals are refused before any command."""
    with pytest.raises(ValidationError):
        facts.wait_synced("r0", timeout, poll=poll)
    assert fake_runner.calls == []


def test_config_facts_from_dump(fake_runner: FakeRunner, rec: Any) -> None:
    """drbdadm dump (real, 3 resources): next free minor and port, resource of a minor or backing disk."""
    fake_runner.expect(["drbdadm", "dump"], rec("drbdadm", "dump_multi-v9-9.22.0.txt"))
    assert facts.next_free_minor() == 3
    assert facts.next_free_port() == 7791
    assert facts.resource_for_minor(2) == "r1"
    assert facts.resource_for_minor(9) is None
    assert facts.resource_for_disk("/dev/vg0/r1b") == ("r1", 2)
    assert facts.resource_for_disk("/dev/vg0/none") is None
    from pybofh_core.session import get_settings

    with get_settings().override(drbd__base_minor=10, drbd__base_port=7000):
        assert (facts.next_free_minor(), facts.next_free_port()) == (10, 7000)


def test_minors_and_backing_disks(fake_runner: FakeRunner, rec: Any) -> None:
    """sh-minor and sh-ll-dev recordings of a two-volume resource."""
    fake_runner.expect(["drbdadm", "sh-minor", "r1"], rec("drbdadm", "sh-minor_r1-9.22.0.txt"))
    fake_runner.expect(["drbdadm", "sh-ll-dev", "r1"], rec("drbdadm", "sh-ll-dev_r1-9.22.0.txt"))
    assert facts.minors("r1") == [1, 2]
    assert facts.backing_disks("r1") == ["/dev/vg0/r1a", "/dev/vg0/r1b"]


def test_drbd_device_size_comes_from_sysfs(fake_runner: FakeRunner, rec: Any) -> None:
    """blockdev cannot open a Secondary's /dev/drbdN on 8.4 (recorded 'Wrong medium type'): sysfs is read."""
    assert b"Wrong medium type" in rec("blockdev", f"getsize64_drbd0-secondary-exit1-{K}.txt")
    fake_runner.expect(["cat", "/sys/block/drbd0/size"], rec("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    fake_runner.expect(["blockdev", "--getsize64", "/dev/drbdvg/r0data"], rec("blockdev", f"getsize64_drbd0-{K}.txt"))
    assert facts.device_size("/dev/drbd0") == 196528 * 512 == 100622336
    assert facts.device_size("/dev/drbdvg/r0data") == 100622336
    assert fake_runner.calls == [("cat", "/sys/block/drbd0/size"), ("blockdev", "--getsize64", "/dev/drbdvg/r0data")]
