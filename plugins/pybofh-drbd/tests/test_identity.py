"""Undo by identity, write-ahead undos and data checks of the DRBD operations, with a fake runner.

States come from the guests' recordings (/proc/drbd of DRBD 8.4.11, ``drbdadm sh-minor``, sysfs sizes) and the
data checks' reads from ``record_checks.py`` (a loop device on this host, empty and with v08 metadata). Cases no
recording shows are derived from a recorded file by changing one field, and each says so: a Diskless disk
(``ds:Diskless``), a resync paused by the user (flag ``u``), another minor in ``sh-minor``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import CommandError, DataAtRiskError
from pybofh_core.operations import OperationRegistry, bind, spec_of
from pybofh_core.runner import FakeRunner
from pybofh_core.testing import Recordings
from pybofh_drbd import ops
from pybofh_drbd.types import ResizeResult, Role, RoleChange

K = "8.4.11"
RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")
SH_MINOR = ("drbdadm", "sh-minor", "r0")
SECTORS = 196528  # recordings/sysfs/block-drbd0-size_secondary


def proc(name: str) -> bytes:
    """A recorded /proc/drbd."""
    return RECORDINGS.output("proc_drbd", f"{name}-{K}.txt")


def derived(name: str, old: bytes, new: bytes) -> bytes:
    """A recorded /proc/drbd with one field changed (for a state no recording shows)."""
    data = proc(name)
    assert old in data
    return data.replace(old, new)


DISKLESS = derived("connected_secondary", b"ds:UpToDate/UpToDate", b"ds:Diskless/UpToDate")
USER_PAUSED = derived("synctarget_secondary", b"C r-----", b"C r--u--")


@pytest.fixture
def node(drbd_runner: FakeRunner) -> Callable[[bytes], None]:
    """Set what /proc/drbd shows now (``drbdadm sh-minor r0`` is the guest's recording: minor 0)."""
    drbd_runner.expect(list(SH_MINOR), RECORDINGS.output("drbdadm", f"sh-minor_r0-guest-9.22.0-k{K}.txt"))
    drbd_runner.expect(["cat", "/proc/drbd"], proc("after-down"))
    reply = drbd_runner.replies[0]

    def show(data: bytes) -> None:
        reply.stdout = data

    return show


def verdict(op: Any, identity: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    spec = spec_of(op)
    return spec.identify(bind(spec, ("r0", *args), kwargs), identity)


def ident(runner: FakeRunner, minors: list[int] | None = None) -> dict[str, Any]:
    return {"resource": "r0", "minors": [0] if minors is None else minors, "boot_id": runner.fake_boot_id}


# (undo operation, state where the step's effect is there: act, state where it is already undone, why)
CASES = [
    (ops.down, proc("connected_inconsistent"), proc("after-down"), "is not up any more"),
    (ops.secondary, proc("syncsource_primary"), proc("connected_secondary"), "is Secondary again"),
    (ops.primary, proc("connected_secondary"), proc("synced_primary"), "is Primary again"),
    (ops.disconnect, proc("connected_secondary"), proc("standalone_primary"), "is StandAlone again"),
    (ops.connect, proc("standalone_primary"), proc("wfconnection_secondary"), "connecting or connected again"),
    (ops.detach, proc("connected_secondary"), DISKLESS, "is Diskless again"),
    (ops.attach, DISKLESS, proc("connected_secondary"), "has its disk again (UpToDate)"),
    (ops.resume_sync, USER_PAUSED, proc("synctarget_secondary"), "is not paused any more"),
    (ops.pause_sync, proc("synctarget_secondary"), USER_PAUSED, "is paused again"),
    (ops.up, proc("after-down"), proc("connected_secondary"), "is up again"),
]


@pytest.mark.parametrize(("op", "act", "done", "why"), CASES, ids=[c[0].__name__ for c in CASES])
def test_undo_verdicts_on_recorded_states(drbd_runner: FakeRunner, node: Callable[[bytes], None], op: Any,
                                          act: bytes, done: bytes, why: str) -> None:
    """Each undo acts where its step's effect is, counts as undone where it is not (or the resource is down), and
    after a reboot (another boot id) finds the kernel state gone."""
    node(act)
    assert verdict(op, ident(drbd_runner)).action == "act"
    node(done)
    v = verdict(op, ident(drbd_runner))
    assert v.action == "already" and why in v.detail
    if op is not ops.up:
        node(proc("after-down"))
        assert verdict(op, ident(drbd_runner)).action == "already"  # down: no role, connection, disk or sync left
    node(act)
    rebooted = {**ident(drbd_runner), "boot_id": "11111111-1111-4111-8111-111111111111"}
    v = verdict(op, rebooted)
    assert v.action == "already" and "before a reboot" in v.detail


@pytest.mark.parametrize("op", [c[0] for c in CASES if c[0] is not ops.up], ids=lambda f: f.__name__)
def test_a_resource_up_with_other_minors_is_left_alone(drbd_runner: FakeRunner, node: Callable[[bytes], None],
                                                       op: Any) -> None:
    """The step changed the resource when it had minor 1; it is up with minor 0 now: another device, left alone."""
    node(dict((c[0], c[1]) for c in CASES)[op])
    v = verdict(op, ident(drbd_runner, [1]))
    assert (v.action, v.detail) == ("other", "DRBD resource r0 is now up with minor(s) 0, not 1 which the step "
                                             "changed")


def test_up_again_refused_when_the_configuration_gives_other_minors(drbd_runner: FakeRunner,
                                                                     node: Callable[[bytes], None]) -> None:
    node(proc("after-down"))
    drbd_runner.expect(list(SH_MINOR), b"1\n")  # derived: sh-minor's one-number answer, another minor
    v = verdict(ops.up, ident(drbd_runner))
    assert (v.action, v.detail) == ("other", "DRBD resource r0 is now configured with minor(s) 1, not 0 which the "
                                             "step took down")


def test_each_undo_carries_name_minor_and_boot(drbd_runner: FakeRunner, node: Callable[[bytes], None]) -> None:
    node(proc("syncsource_primary"))
    for op, result in ((ops.up, "r0"), (ops.connect, "r0"), (ops.detach, "r0"), (ops.pause_sync, "r0"),
                       (ops.primary, RoleChange("r0", Role.SECONDARY, Role.PRIMARY))):
        spec = spec_of(op)
        u = spec.undo_for(result, bind(spec, ("r0",), {}))
        assert u.identity == ident(drbd_runner), op.__name__


# --- write-ahead: a step cut short is probed on rollback --------------------------------------------------------------


def _registry() -> OperationRegistry:
    registry = OperationRegistry()
    registry.add_module("drbd", ops)
    return registry


@pytest.mark.parametrize("took_effect", [True, False])
def test_a_failed_promotion_is_undone_only_if_it_took_effect(drbd_runner: FakeRunner, node: Callable[[bytes], None],
                                                             took_effect: bool) -> None:
    """``drbdadm primary`` fails (after promoting, or before): the undo journalled ahead of it (secondary) finds
    the node Primary and demotes it, or finds it Secondary and counts as undone."""
    node(proc("connected_secondary"))

    def fail(_argv: tuple[str, ...], _data: bytes | None) -> None:
        if took_effect:
            node(proc("synced_primary"))

    drbd_runner.expect(["drbdadm", "primary", "r0"], returncode=11, stderr=b"r0: State change failed\n", effect=fail)
    drbd_runner.expect(["drbdadm", "secondary", "r0"], effect=lambda _a, _d: node(proc("connected_secondary")))
    with pytest.raises(CommandError), Atomic(registry=_registry()) as atomic:
        atomic.drbd.primary("r0")
    [(step, outcome)] = atomic.outcomes
    assert step.uncertain and step.undo.func is ops.secondary and step.undo.identity == ident(drbd_runner)
    assert outcome.state == ("undone" if took_effect else "already")
    assert (("drbdadm", "secondary", "r0") in drbd_runner.calls) is took_effect


def test_no_undo_is_journalled_ahead_when_there_is_nothing_to_restore(drbd_runner: FakeRunner,
                                                                     node: Callable[[bytes], None]) -> None:
    """connect on a node that is already connecting: disconnecting it on rollback would undo more than the step."""
    node(proc("wfconnection_secondary"))
    drbd_runner.expect(["drbdadm", "connect", "r0"], returncode=10, stderr=b"r0: Failure: (102)\n")
    with pytest.raises(CommandError), Atomic(registry=_registry()) as atomic:
        atomic.drbd.connect("r0")
    assert atomic.outcomes == []


# --- resize ↔ back ---------------------------------------------------------------------------------------------------


SYSFS = ["cat", "/sys/block/drbd0/size"]


def test_resize_undo_verdicts(drbd_runner: FakeRunner, node: Callable[[bytes], None]) -> None:
    node(proc("connected_secondary"))
    now = SECTORS * 512
    drbd_runner.expect(SYSFS, RECORDINGS.output("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    identity = {"resource": "r0", "minors": [0], "size": now}
    assert verdict(ops.resize, identity, size=now - 8 * 1024**2).action == "act"
    assert verdict(ops.resize, identity, size=now).action == "already"
    v = verdict(ops.resize, {**identity, "size": now + 8 * 1024**2}, size=now - 8 * 1024**2)
    assert v.action == "other" and "resized since" in v.detail
    node(proc("after-down"))
    v = verdict(ops.resize, identity, size=now - 8 * 1024**2)
    assert v.action == "other" and "is down" in v.detail  # DRBD keeps the size in its metadata: not undone


def test_resize_undo_is_journalled_ahead_and_carries_the_size_it_set(drbd_runner: FakeRunner,
                                                                     node: Callable[[bytes], None]) -> None:
    node(proc("connected_secondary"))
    now = SECTORS * 512
    drbd_runner.expect(SYSFS, RECORDINGS.output("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    u = spec_of(ops.resize).undo_for(ResizeResult("r0", now - 4096, now), {"res": "r0"})
    assert (u.args, dict(u.kwargs), u.identity) == (("r0",), {"size": now - 4096},
                                                     {"resource": "r0", "minors": [0], "size": now})
    drbd_runner.expect(["drbdadm", "--", ...], returncode=10, stderr=b"r0: Failure: (111)\n")
    with pytest.raises(CommandError), Atomic(registry=_registry()) as atomic:
        atomic.drbd.resize("r0", now + 4096)
    [(step, outcome)] = atomic.outcomes
    assert step.undo.kwargs == {"size": now} and step.undo.identity["size"] == now + 4096
    assert outcome.state == "already"  # the size did not change


# --- data checks: create_md and invalidate -------------------------------------------------------------------------


def _disk() -> str:
    """The loop device record_checks.py recorded its wipefs and lsblk outputs with (their side-cars' ``paths``)."""
    return RECORDINGS.get("wipefs", "json_empty-disk", "2.38.1").paths["disk"]


def _md_replies(runner: FakeRunner, wipefs_case: str) -> None:
    disk = _disk()
    runner.expect(["drbdadm", "sh-ll-dev", "r0"], f"{disk}\n")  # sh-ll-dev's one-path answer, for that device
    runner.expect(["wipefs", "--no-act", "--json", "--", disk],
                  RECORDINGS.output("wipefs", f"{wipefs_case}-2.38.1.txt"))
    runner.expect(["lsblk", "--json", "--bytes", "--tree", "-o", "PATH,TYPE,MOUNTPOINTS", "--", disk],
                  RECORDINGS.output("lsblk", "tree-usage_empty-disk-2.38.1.txt"))
    runner.expect(["drbdadm", "create-md", "--force", "r0"])


def test_create_md_refuses_a_disk_holding_drbd_metadata(drbd_runner: FakeRunner,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk already holds DRBD metadata (recorded: ``drbdadm-84 create-md`` on a loop device): refused, and
    drbdmeta's prompt is never answered with --force; ``force=True`` goes ahead without looking."""
    monkeypatch.setattr("pybofh_drbd.ops.validate_path", lambda p, **_: p)
    _md_replies(drbd_runner, "json_drbd-v08-metadata")
    with pytest.raises(DataAtRiskError, match=rf"{_disk()} already contains drbd \(UUID 79d4e8f78b56cc2b\); "
                                              r"writing DRBD metadata for r0 .* --force"):
        ops.create_md("r0", _disk())
    assert ("drbdadm", "create-md", "--force", "r0") not in drbd_runner.calls
    drbd_runner.calls.clear()
    assert ops.create_md("r0", _disk(), force=True) == _disk()
    assert not any(c[0] in ("wipefs", "lsblk") for c in drbd_runner.calls)


def test_create_md_on_an_empty_disk_needs_no_force(drbd_runner: FakeRunner) -> None:
    _md_replies(drbd_runner, "json_empty-disk")
    assert ops.create_md("r0") == _disk()  # no disk named: every configured one is checked
    assert [c[0] for c in drbd_runner.calls].count("wipefs") == 1
    assert drbd_runner.calls[-1] == ("drbdadm", "create-md", "--force", "r0")


def test_invalidate_refuses_naming_what_is_lost(drbd_runner: FakeRunner, node: Callable[[bytes], None]) -> None:
    node(proc("synced_secondary"))
    drbd_runner.expect(["drbdadm", "sh-ll-dev", "r0"],
                       RECORDINGS.output("drbdadm", f"sh-ll-dev_r0-guest-9.22.0-k{K}.txt"))
    drbd_runner.expect(["drbdadm", "invalidate", "r0"])
    with pytest.raises(DataAtRiskError) as err:
        ops.invalidate("r0")
    assert str(err.value) == (
        "invalidating DRBD resource r0 discards this node's data on /dev/drbd0 (UpToDate), backed by "
        "/dev/drbdvg/r0data: every block is resynced from the peer (Connected, peer disk UpToDate), and what only "
        "this node had is lost — pass --force (force=True) to go ahead anyway")
    assert ("drbdadm", "invalidate", "r0") not in drbd_runner.calls
    assert ops.invalidate("r0", force=True) == "r0"
    assert drbd_runner.calls[-1] == ("drbdadm", "invalidate", "r0")


def test_user_pause_flag_is_read_from_proc_drbd() -> None:
    """/proc/drbd's fourth flag letter ``u`` is a resync paused with pause-sync (derived line, see USER_PAUSED)."""
    from pybofh_drbd.parsers import parse_proc_drbd, resource_from_proc

    dev = parse_proc_drbd(USER_PAUSED).device(0)
    assert resource_from_proc(dev, "r0").connections[0].volumes[0].resync_suspended == "user"
    dev = parse_proc_drbd(proc("synctarget_secondary")).device(0)
    assert resource_from_proc(dev, "r0").connections[0].volumes[0].resync_suspended is None
