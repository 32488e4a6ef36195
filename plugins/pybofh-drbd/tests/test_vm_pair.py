"""DRBD for real between the two guests of the VM test bed (Debian 12 kernel, DRBD 8.4.11, drbd-utils 9.22.0).

The host process drives each guest's pybofh operations through that guest's command channel (``GuestRunner``):
create-md, up, the initial sync with its progress, invalidate refused without force, a primary/secondary switch,
disconnect/connect, down; then an ``Atomic()`` block that brings the resource up on both nodes, promotes one,
fails, and must leave both as they were; the same block again with the resource taken down by hand before the
failure (every undo counts as already undone); and create-md refused over the metadata now on the LV. Then plan
equals execution (issue 15): create-md → up → primary planned with ``Atomic(dry_run=True)`` on one node, run for
real and rolled back, the run's and the rollback's commands compared with the plan's.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import DataAtRiskError
from pybofh_core.runner import DryRunRunner, get_runner, use_runner
from pybofh_core.session import journal as session_journal
from pybofh_core.testing import planned_undos, same_plan, steps_of, undos_run
from pybofh_drbd import facts, ops
from pybofh_drbd.errors import ResourceDownError
from pybofh_drbd.types import ConnectionState, DiskState, DrbdResource, Role

pytestmark = [pytest.mark.vm_pair, pytest.mark.slow]

_spec = importlib.util.spec_from_file_location("pybofh_drbd_vmpair", Path(__file__).with_name("vmpair.py"))
assert _spec is not None and _spec.loader is not None
vmpair = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vmpair)

RES = vmpair.RES
LV_PATH = f"/dev/{vmpair.VG}/{vmpair.LV}"


def wait_for(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    """Poll ``check`` every 0.3 s until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def status_on(runner: Any) -> DrbdResource:
    """The resource's status read on one guest."""
    with use_runner(runner):
        return facts.status(RES)


def connected(*runners: Any) -> Callable[[], bool]:
    """A check: the resource is Connected (or syncing) on every given node."""
    return lambda: all(status_on(r).connections[0].state.connected for r in runners)


def is_down(runner: Any) -> bool:
    """Whether the resource is down on that node."""
    try:
        status_on(runner)
    except ResourceDownError:
        return True
    return False


def test_drbd_resource_between_two_guests(drbd_vm_pair: tuple[Any, Any]) -> None:
    """create-md, up, initial sync with progress, role switch, disconnect/connect, down, and an atomic rollback."""
    a, b = drbd_vm_pair
    ra, rb = vmpair.GuestRunner(a), vmpair.GuestRunner(b)
    disks = {id(a): vmpair.scratch_disk(a), id(b): vmpair.scratch_disk(b)}
    try:
        for g in (a, b):
            vmpair.setup_node(g, disks[id(g)])
        for r in (ra, rb):
            with use_runner(r):
                assert ops.create_md(RES, LV_PATH) == LV_PATH
                ops.up(RES)
        wait_for(connected(ra, rb), "both nodes to connect")
        sa, sb = status_on(ra), status_on(rb)
        assert (sa.role, sb.role) == (Role.SECONDARY, Role.SECONDARY)
        assert sa.volumes[0].disk is DiskState.INCONSISTENT and sa.minors == [0]

        # initial sync: force A primary, follow the progress until both sides are UpToDate
        with use_runner(ra):
            change = ops.primary(RES, authoritative=True)
            assert (change.previous, change.current) == (Role.SECONDARY, Role.PRIMARY)
            seen: list[float] = []
            final = facts.wait_synced(RES, 240, poll=0.5,
                                      on_progress=lambda st: seen.append(st.sync_percent or 0.0))
        assert final.synced and final.role is Role.PRIMARY
        partial = [p for p in seen if 0 < p < 100]
        assert partial, f"no progress figure between 0 and 100 % was seen: {seen}"
        assert partial == sorted(partial)
        sb = status_on(rb)
        assert (sb.role, sb.volumes[0].disk, sb.connections[0].peer_role) == (Role.SECONDARY, DiskState.UPTODATE,
                                                                                Role.PRIMARY)
        with use_runner(rb), pytest.raises(DataAtRiskError, match=r"discards this node's data on /dev/drbd0 "
                                                                  r"\(UpToDate\)"):
            ops.invalidate(RES)  # refused without force: B's data stays
        assert status_on(rb).volumes[0].disk is DiskState.UPTODATE

        # primary/secondary switch, each change returning the role it replaced
        with use_runner(ra):
            assert ops.secondary(RES).previous is Role.PRIMARY
        with use_runner(rb):
            assert ops.primary(RES).previous is Role.SECONDARY
        assert (status_on(ra).role, status_on(rb).role) == (Role.SECONDARY, Role.PRIMARY)
        assert status_on(ra).connections[0].peer_role is Role.PRIMARY
        with use_runner(rb):
            ops.secondary(RES)

        # disconnect / connect
        with use_runner(ra):
            ops.disconnect(RES)
        assert status_on(ra).connections[0].state is ConnectionState.STANDALONE
        wait_for(lambda: not status_on(rb).connections[0].state.connected, "B to notice the disconnect")
        with use_runner(ra):
            ops.connect(RES)
        wait_for(connected(ra, rb), "the nodes to reconnect")
        wait_for(lambda: status_on(ra).synced, "the nodes to be in sync again")

        # down on both
        for r in (ra, rb):
            with use_runner(r):
                ops.down(RES)
        assert is_down(ra) and is_down(rb)

        # an atomic job across both nodes that fails after up + primary: both end as they were (down)
        with pytest.raises(RuntimeError, match="injected"), Atomic(label="drbd vm pair") as atomic:
            with use_runner(rb):
                atomic.drbd.up(RES)
            with use_runner(ra):
                atomic.drbd.up(RES)
                wait_for(connected(ra, rb), "both nodes to connect inside the atomic block")
                assert atomic.drbd.primary(RES).previous is Role.SECONDARY
                assert facts.status(RES).role is Role.PRIMARY
            raise RuntimeError("injected failure after up + primary")
        assert is_down(ra) and is_down(rb)

        # the same job, but before it fails an administrator takes the resource down by hand on both nodes: the
        # rollback finds nothing left to undo (each undo counts as already undone) and the journal is rolled-back
        with pytest.raises(RuntimeError, match="by hand"), Atomic(label="drbd vm pair, down by hand") as atomic:
            with use_runner(rb):
                atomic.drbd.up(RES)
            with use_runner(ra):
                atomic.drbd.up(RES)
                wait_for(connected(ra, rb), "both nodes to connect inside the second atomic block")
                atomic.drbd.primary(RES)
            for g in (a, b):
                vmpair.sh(g, f"drbdadm down {RES}")
            raise RuntimeError("failure after the resource was taken down by hand")
        assert [(step.spec.name, outcome.state) for step, outcome in atomic.outcomes] == [
            ("primary", "already"), ("up", "already"), ("up", "already")]
        assert "is not up any more" in atomic.outcomes[0][1].detail
        assert atomic.journal_id is not None
        assert session_journal().load(atomic.journal_id).status == "rolled-back"
        assert is_down(ra) and is_down(rb)

        # the LV now holds DRBD metadata: writing new metadata over it is refused unless forced
        with use_runner(ra), pytest.raises(DataAtRiskError, match=r"already contains drbd"):
            ops.create_md(RES, LV_PATH)
    finally:
        for g in (a, b):
            vmpair.teardown_node(g, disks[id(g)])


def md_up_primary(atomic: Atomic) -> tuple[DrbdResource, int, DrbdResource]:
    """The job: fresh metadata on the LV, r0 up, promoted as the initial sync's source (``drbdadm primary --force``);
    what ``facts`` say after up (status, /dev/drbd0's size) and after primary — planned, or read from DRBD."""
    atomic.drbd.create_md(RES, LV_PATH)
    atomic.drbd.up(RES)
    after_up, size = facts.status(RES), facts.device_size("/dev/drbd0")
    atomic.drbd.primary(RES, authoritative=True)
    return after_up, size, facts.status(RES)


def test_plan_of_create_md_up_primary_is_what_runs_and_rolls_back(drbd_vm_pair: tuple[Any, Any]) -> None:
    """On node A, r0 down on an empty LV: the dry run of create-md → up → primary plans to the end without
    changing anything; the same job run for real inside ``Atomic()`` and failed at its end runs the plan's
    commands, its rollback the planned undos (newest first), DRBD reports what the plan's model said after up and
    after primary, and r0 is down again."""
    a, _ = drbd_vm_pair
    ra = vmpair.GuestRunner(a)
    disk = vmpair.scratch_disk(a)
    try:
        vmpair.setup_node(a, disk)
        # lvcreate -Z n: the new LV may lie on the extents of an earlier test's LV and its DRBD metadata
        vmpair.sh(a, f"wipefs -a -q {LV_PATH}")
        assert is_down(ra)

        # use_runner first: Atomic(dry_run=True) wraps the runner current when it is entered; a use_runner inside
        # the block would replace the dry-run runner and run the commands for real
        with use_runner(ra), Atomic(dry_run=True, allow_irreversible=True, label="drbd plan") as plan:
            current = get_runner()
            assert isinstance(current, DryRunRunner) and current.inner is ra
            p_up, p_size, p_primary = md_up_primary(plan)
        planned, planned_undo = steps_of(plan), planned_undos(plan)
        assert [op for op, _ in planned] == ["drbd.create_md", "drbd.up", "drbd.primary"]
        assert planned[0][1] == [f"[{ra.host}] drbdadm create-md --force {RES}"]
        assert [op for op, _ in planned_undo] == ["drbd.primary", "drbd.up"]
        assert is_down(ra)  # the dry run changed nothing
        assert vmpair.sh(a, f"blkid -p -o value -s TYPE {LV_PATH} || true").strip() == ""  # no metadata written

        class Stop(Exception):
            pass

        ran: list[tuple[str, list[str]]] = []
        with pytest.raises(Stop), use_runner(ra), Atomic(allow_irreversible=True, label="drbd plan, run") as real:
            r_up, r_size, r_primary = md_up_primary(real)
            ran = steps_of(real)  # before the rollback takes the steps
            raise Stop
        assert same_plan(planned, ran), (planned, ran)
        assert same_plan(planned_undo, undos_run(real)), (planned_undo, undos_run(real))
        assert [(step.spec.name, outcome.state) for step, outcome in real.outcomes] == [
            ("primary", "undone"), ("up", "undone")]
        # the model's state is DRBD's: after up Secondary, Inconsistent, /dev/drbd0 as large; after primary UpToDate
        assert (p_up.role, p_up.minors, [v.disk for v in p_up.volumes]) == (
            r_up.role, r_up.minors, [v.disk for v in r_up.volumes]) == (Role.SECONDARY, [0], [DiskState.INCONSISTENT])
        assert p_size == r_size
        assert p_up.connections[0].state is ConnectionState.WF_CONNECTION  # right after up DRBD may still say
        assert r_up.connections[0].state in (ConnectionState.WF_CONNECTION, ConnectionState.UNCONNECTED,
                                             ConnectionState.STANDALONE)  # it is setting up its listener
        assert (p_primary.role, [v.disk for v in p_primary.volumes]) == (
            r_primary.role, [v.disk for v in r_primary.volumes]) == (Role.PRIMARY, [DiskState.UPTODATE])
        assert is_down(ra)
    finally:
        vmpair.teardown_node(a, disk)
