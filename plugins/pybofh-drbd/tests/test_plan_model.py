"""A dry run plans a DRBD job on its planning model: create-md → up → primary plans end to end.

``Atomic(dry_run=True)`` of create_md → up → primary used to stop at ``primary``: "resource is not up" (the up was
only planned). Now each planned step's effect is in the model (``pybofh_drbd.effects``) and ``facts.status``,
``is_up`` and ``device_size`` read it first. The reads replay the VM test bed guest's recordings (DRBD 8.4.11:
``drbdadm dump``/``sh-ll-dev``/``sh-minor`` of r0, /proc/drbd) and the empty disk ``record_checks.py`` recorded;
the LV's size is the test bed's 96 MiB (``vmpair.LV_SIZE_MIB``). Nothing mutating reaches the runner. The VM test
(``test_vm_pair.py``) runs the same job for real and compares the commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import DataAtRiskError
from pybofh_core.model import GONE, Placeholder
from pybofh_core.operations import OperationRegistry
from pybofh_core.runner import FakeRunner, get_runner
from pybofh_core.safety import signatures
from pybofh_core.testing import Recordings, planned_undos, steps_of
from pybofh_drbd import effects, facts, ops
from pybofh_drbd.errors import ResourceDownError
from pybofh_drbd.types import ConnectionState, DiskState, Role

K = "8.4.11"
GUEST = f"9.22.0-k{K}"
RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")
LV = "/dev/drbdvg/r0data"  # the guest's backing disk of r0 (recordings/drbdadm/sh-ll-dev_r0-guest)
LV_BYTES = 96 * 1024**2  # vmpair.LV_SIZE_MIB
#: what the guest's kernel made of that LV: /sys/block/drbd0/size (sectors) and blockdev --getsize64 /dev/drbd0
DRBD0_BYTES = int(RECORDINGS.output("sysfs", f"block-drbd0-size_secondary-{K}.txt")) * 512
MUTATING = {"create-md", "up", "down", "primary", "secondary", "connect", "disconnect", "attach", "detach",
            "invalidate", "pause-sync", "resume-sync", "resize", "--"}


def out(tool: str, name: str) -> bytes:
    """A recorded output."""
    return RECORDINGS.output(tool, name)


@pytest.fixture
def registry() -> OperationRegistry:
    """The DRBD operations alone (an Atomic block finds ``atomic.drbd.*`` there)."""
    reg = OperationRegistry()
    reg.add_module("drbd", ops)
    return reg


@pytest.fixture
def guest(fake_runner: FakeRunner) -> Iterator[FakeRunner]:
    """The guest as the VM test bed leaves it before the job: r0 configured on an empty 96 MiB LV, drbd loaded,
    nothing up. ``guest.expect`` a /proc/drbd to change that."""
    fake_runner.paths = {LV: "block"}
    fake_runner.expect(["drbdadm", "sh-resources"], out("drbdadm", f"sh-resources_guest-{GUEST}.txt"))
    fake_runner.expect(["drbdadm", "sh-ll-dev", "r0"], out("drbdadm", f"sh-ll-dev_r0-guest-{GUEST}.txt"))
    fake_runner.expect(["drbdadm", "sh-minor", "r0"], out("drbdadm", f"sh-minor_r0-guest-{GUEST}.txt"))
    fake_runner.expect(["drbdadm", "dump", "r0"], out("drbdadm", f"dump_r0-guest-{GUEST}.txt"))
    # the data check of create_md: the empty disk record_checks.py recorded stands for the fresh LV
    fake_runner.expect(["wipefs", "--no-act", "--json", "--", LV], out("wipefs", "json_empty-disk-2.38.1.txt"))
    fake_runner.expect(["lsblk", "--json", "--bytes", "--tree", "-o", "PATH,TYPE,MOUNTPOINTS", "--", LV],
                       out("lsblk", "tree-usage_empty-disk-2.38.1.txt"))
    fake_runner.expect(["blockdev", "--getsize64", LV], f"{LV_BYTES}\n")
    fake_runner.expect(["cat", "/proc/drbd"], out("proc_drbd", f"loaded-no-resources-{K}.txt"))
    yield fake_runner
    assert not [c for c in fake_runner.calls if c[0] == "drbdadm" and MUTATING & set(c[1:])], \
        "a dry run ran a mutating command"


def no_sleep(seconds: float) -> None:
    """A ``sleep`` for ``wait_synced`` that fails the test: a dry run must not wait."""
    raise AssertionError(f"a dry run waited {seconds} s")


def test_usable_size_is_what_drbd_84_made_of_the_lv() -> None:
    """The planned device size: the 96 MiB LV less 80 sectors of internal metadata, as the guest's kernel made it
    (recorded with sysfs and blockdev); external metadata leaves the whole disk."""
    assert effects.usable_size(LV_BYTES, "internal") == DRBD0_BYTES == int(
        out("blockdev", f"getsize64_drbd0-{K}.txt"))
    assert effects.usable_size(LV_BYTES, "/dev/vg0/meta[0]") == LV_BYTES
    assert effects.usable_size(LV_BYTES + 4095, "internal") == DRBD0_BYTES  # DRBD uses whole 4 KiB blocks


def test_create_md_up_primary_plans_end_to_end(guest: FakeRunner, registry: OperationRegistry) -> None:
    """Each step sees what the earlier ones planned: the metadata on the LV, the resource up as DRBD reports it
    right after ``drbdadm up``, /dev/drbd0 at the size the kernel gives it, then Primary; undos newest first."""
    with Atomic(dry_run=True, allow_irreversible=True, registry=registry) as plan:
        assert plan.drbd.create_md("r0", LV) == LV
        (sig,) = signatures(LV)
        assert (sig.type, sig.offset, sig.uuid) == ("drbd", LV_BYTES - 4096 + 0x3C, f"<uuid of DRBD metadata on {LV}>")
        assert isinstance(sig.uuid, Placeholder)
        assert not facts.is_up("r0")
        plan.drbd.up("r0")
        st = facts.status("r0")
        assert (st.role, st.minors, [v.disk for v in st.volumes]) == (Role.SECONDARY, [0], [DiskState.INCONSISTENT])
        assert [(c.state, c.peer_role, c.protocol) for c in st.connections] == [
            (ConnectionState.WF_CONNECTION, Role.UNKNOWN, "C")]
        assert facts.device_size("/dev/drbd0") == DRBD0_BYTES and get_runner().exists("/dev/drbd0")
        change = plan.drbd.primary("r0", authoritative=True)
        assert (change.previous, change.current) == (Role.SECONDARY, Role.PRIMARY)
        st = facts.status("r0")
        assert (st.role, st.volumes[0].disk) == (Role.PRIMARY, DiskState.UPTODATE)
        assert facts.wait_synced("r0", sleep=no_sleep) is st  # nothing syncs in a plan: not waited for
    assert steps_of(plan) == [
        ("drbd.create_md", ["drbdadm create-md --force r0"]),
        ("drbd.up", ["drbdadm up r0"]),
        ("drbd.primary", ["drbdadm primary --force r0"]),
    ]
    assert planned_undos(plan) == [("drbd.primary", ["drbdadm secondary r0"]), ("drbd.up", ["drbdadm down r0"])]
    assert plan.plan[0]["undo"] is None and plan.plan[0]["irreversible"]
    # nothing was changed, and outside the dry run the system answers again: nothing is up, the LV is empty
    with pytest.raises(ResourceDownError):
        facts.status("r0")
    assert signatures(LV) == ()


def test_a_planned_data_check_sees_the_planned_metadata(guest: FakeRunner, registry: OperationRegistry) -> None:
    """A second create_md in the same plan is refused over the metadata the first one planned, as in the run."""
    with pytest.raises(DataAtRiskError, match=rf"{LV} already contains drbd \(UUID <uuid of DRBD metadata on "), \
            Atomic(dry_run=True, allow_irreversible=True, registry=registry) as plan:
        plan.drbd.create_md("r0", LV)
        plan.drbd.create_md("r0", LV)


def test_down_then_up_of_a_resource_that_is_up(guest: FakeRunner, registry: OperationRegistry) -> None:
    """r0 is up for real (Connected, UpToDate): a planned down makes it down and /dev/drbd0 gone for the steps
    after it (a primary is refused as in the run); a planned up brings it back Secondary, its disk state unknown
    (the metadata's flags decide); the undos are planned on that state, newest first."""
    guest.expect(["cat", "/proc/drbd"], out("proc_drbd", f"synced_secondary-{K}.txt"))
    guest.expect(["cat", "/sys/block/drbd0/size"], out("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    with Atomic(dry_run=True, registry=registry) as plan:
        assert facts.status("r0").connections[0].state is ConnectionState.CONNECTED
        plan.drbd.down("r0")
        assert not facts.is_up("r0") and not get_runner().exists("/dev/drbd0")
        model = get_runner().model
        assert model is not None and model.get(effects.RESOURCE, "r0") is GONE
        with pytest.raises(ResourceDownError, match="not up"):
            plan.drbd.primary("r0")
        plan.drbd.up("r0")
        st = facts.status("r0")
        assert (st.role, st.volumes[0].disk, st.connections[0].state) == (
            Role.SECONDARY, DiskState.DUNKNOWN, ConnectionState.WF_CONNECTION)
        assert facts.device_size("/dev/drbd0") == DRBD0_BYTES
    assert steps_of(plan) == [("drbd.down", ["drbdadm down r0"]), ("drbd.up", ["drbdadm up r0"])]
    assert planned_undos(plan) == [("drbd.up", ["drbdadm down r0"]), ("drbd.down", ["drbdadm up r0"])]


def test_role_connection_disk_pause_and_size_changes(guest: FakeRunner, registry: OperationRegistry) -> None:
    """On r0 up for real (Connected Secondary, UpToDate): each planned change is what the next step reads."""
    guest.expect(["cat", "/proc/drbd"], out("proc_drbd", f"synced_secondary-{K}.txt"))
    guest.expect(["cat", "/sys/block/drbd0/size"], out("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    with Atomic(dry_run=True, registry=registry) as plan:
        plan.drbd.disconnect("r0")
        (conn,) = facts.status("r0").connections
        assert (conn.state, conn.peer_role, conn.volumes[0].peer_disk) == (
            ConnectionState.STANDALONE, Role.UNKNOWN, DiskState.DUNKNOWN)
        plan.drbd.connect("r0")
        assert facts.status("r0").connections[0].state is ConnectionState.WF_CONNECTION
        plan.drbd.detach("r0")
        assert facts.status("r0").volumes[0].disk is DiskState.DISKLESS
        plan.drbd.attach("r0")
        assert facts.status("r0").volumes[0].disk is DiskState.DUNKNOWN
        plan.drbd.pause_sync("r0")
        assert facts.status("r0").connections[0].volumes[0].resync_suspended == "user"
        plan.drbd.resume_sync("r0")
        assert facts.status("r0").connections[0].volumes[0].resync_suspended is None
        assert plan.drbd.secondary("r0").previous is Role.SECONDARY  # already: nothing to undo
        assert plan.drbd.primary("r0").previous is Role.SECONDARY
        assert facts.status("r0").role is Role.PRIMARY
        grown = plan.drbd.resize("r0", DRBD0_BYTES - 1024**2)
        assert (grown.old_size, grown.new_size) == (DRBD0_BYTES, DRBD0_BYTES - 1024**2)
        assert facts.device_size("/dev/drbd0") == DRBD0_BYTES - 1024**2
        filled = plan.drbd.resize("r0")
        assert (filled.old_size, filled.new_size) == (DRBD0_BYTES - 1024**2, DRBD0_BYTES)
    assert planned_undos(plan) == [
        ("drbd.resize", [f"drbdadm -- --size={(DRBD0_BYTES - 1024**2) // 512}s resize r0"]),
        ("drbd.resize", [f"drbdadm -- --size={DRBD0_BYTES // 512}s resize r0"]),
        ("drbd.primary", ["drbdadm secondary r0"]),
        ("drbd.resume_sync", ["drbdadm pause-sync r0"]),
        ("drbd.pause_sync", ["drbdadm resume-sync r0"]),
        ("drbd.attach", ["drbdadm detach r0"]),
        ("drbd.detach", ["drbdadm attach r0"]),
        ("drbd.connect", ["drbdadm disconnect r0"]),
        ("drbd.disconnect", ["drbdadm connect r0"]),
    ]


V9_PROC = b"version: 9.2.8 (api:2/proto:86-122)\n"  # derived: DRBD 9's /proc/drbd is its version line


def test_up_on_drbd_9_connects_to_each_peer(fake_runner: FakeRunner, registry: OperationRegistry) -> None:
    """DRBD 9 (recorded ``drbdadm dump`` of a v9 r0 on host ``vm``, peer ``peer``): after a planned up the
    resource is Connecting to its peer by name and node id (not read from drbdsetup), on a /dev/drbd0 that fills
    its disk less one peer's metadata."""
    fake_runner.expect(["drbdadm", "sh-resources"], out("drbdadm", f"sh-resources_guest-{GUEST}.txt"))
    fake_runner.expect(["drbdadm", "dump", "r0"], out("drbdadm", "dump_r0-v9-9.22.0.txt"))
    fake_runner.expect(["cat", "/proc/drbd"], V9_PROC)
    fake_runner.expect(["blockdev", "--getsize64", "/dev/loop0"], f"{LV_BYTES}\n")
    fake_runner.expect(["drbdsetup", "status", "--json", "r0"], returncode=10,  # down (recorded in the guest)
                       stderr=out("drbdadm", f"status_r0-down-exit10-{GUEST}.txt"))
    with Atomic(dry_run=True, registry=registry):
        ops.up("r0")
        calls = len(fake_runner.calls)
        st = facts.status("r0")
        assert (st.node_id, st.role, st.volumes[0].disk) == (0, Role.SECONDARY, DiskState.DUNKNOWN)
        assert [(c.name, c.peer_node_id, c.state) for c in st.connections] == [
            ("peer", 1, ConnectionState.CONNECTING)]
        assert facts.device_size("/dev/drbd0") == DRBD0_BYTES
        assert fake_runner.calls[calls:] == []  # the planned status answered
