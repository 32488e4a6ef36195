"""Operations with a fake runner: argv of each operation and of its inverse, validation before any command.

Undos carry the resource's identity (name, minors, boot id), read from /proc/drbd and ``drbdadm sh-minor``
(recorded in the VM test bed's guests); those read-only reads are left out of the argv comparisons
(:func:`without_identity_reads`), which pin the same commands as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import IrreversibleOperationError, ValidationError
from pybofh_core.operations import OperationRegistry, bind, spec_of
from pybofh_core.runner import FakeRunner
from pybofh_drbd import ops
from pybofh_drbd.errors import DrbdError, ResourceDownError, ResourceNotFoundError
from pybofh_drbd.types import ResizeResult, Role, RoleChange

SH_RES = ("drbdadm", "sh-resources")
K = "8.4.11"

# operation -> (drbdadm args, inverse's drbdadm args or None when irreversible / nothing to undo)
SIMPLE: dict[str, tuple[list[str], list[str] | None]] = {
    "up": (["up", "r0"], ["down", "r0"]),
    "down": (["down", "r0"], ["up", "r0"]),
    "connect": (["connect", "r0"], ["disconnect", "r0"]),
    "disconnect": (["disconnect", "r0"], ["connect", "r0"]),
    "attach": (["attach", "r0"], ["detach", "r0"]),
    "detach": (["detach", "r0"], ["attach", "r0"]),
    "pause_sync": (["pause-sync", "r0"], ["resume-sync", "r0"]),
    "resume_sync": (["resume-sync", "r0"], ["pause-sync", "r0"]),
    "verify": (["verify", "r0"], None),
    "adjust": (["adjust", "r0"], None),
    "invalidate": (["invalidate", "r0"], None),
}


def without_identity_reads(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The calls minus the state reads of identities (/proc/drbd, sh-minor)."""
    return [c for c in calls if c != ("cat", "/proc/drbd") and c[:2] != ("drbdadm", "sh-minor")]


def run_undo(func: Callable[..., Any], result: Any, *args: Any, **kwargs: Any) -> Any:
    """Compute the registered inverse of a finished call and run it (as an atomic block's rollback would)."""
    spec = spec_of(func)
    assert spec is not None
    u = spec.undo_for(result, bind(spec, args, kwargs))
    if u is None:
        return None
    u()
    return u


@pytest.mark.parametrize("op_name", sorted(SIMPLE))
def test_simple_operation_and_inverse_argv(drbd_runner: FakeRunner, rec: Any, op_name: str) -> None:
    """The resource is checked (sh-resources), then one drbdadm command runs; the inverse runs its own."""
    args, inverse = SIMPLE[op_name]
    drbd_runner.expect(["drbdadm", *args])
    if inverse:
        drbd_runner.expect(["drbdadm", *inverse])
    _with_role(drbd_runner, rec, f"connected_inconsistent-{K}.txt")  # what the undo's identity reads
    func = getattr(ops, op_name)
    result = func("r0", **({"force": True} if op_name == "invalidate" else {}))  # invalidate: its data check
    assert drbd_runner.calls == [SH_RES, ("drbdadm", *args)]
    drbd_runner.calls.clear()
    spec = spec_of(func)
    assert spec is not None
    undone = run_undo(func, result, "r0")
    if inverse is None:
        assert undone is None
        assert drbd_runner.calls == []
        assert (spec.irreversible is not None) == (op_name in ("adjust", "invalidate"))
    else:
        assert without_identity_reads(drbd_runner.calls) == [SH_RES, ("drbdadm", *inverse)]
        assert undone.identity == {"resource": "r0", "minors": [0], "boot_id": drbd_runner.fake_boot_id}


@pytest.mark.parametrize("op_name", [*sorted(SIMPLE), "primary", "secondary", "create_md", "resize"])
@pytest.mark.parametrize("bad", ["-r0", "r 0", "a/b", "", "all", "r0;rm", "\x00"])
def test_bad_resource_name_runs_nothing(fake_runner: FakeRunner, op_name: str, bad: str) -> None:
    """Names that could be options, paths, several words or drbdadm's 'all' are refused before any command."""
    with pytest.raises(ValidationError):
        getattr(ops, op_name)(bad)
    assert fake_runner.calls == []


@pytest.mark.parametrize("op_name", [*sorted(SIMPLE), "primary", "secondary", "create_md", "resize"])
def test_unknown_resource_is_not_found(drbd_runner: FakeRunner, op_name: str) -> None:
    """A resource the configuration does not define: typed NotFound after the one read, nothing mutating ran."""
    with pytest.raises(ResourceNotFoundError, match="r9"):
        getattr(ops, op_name)("r9")
    assert drbd_runner.calls == [SH_RES]


def _with_role(runner: FakeRunner, rec: Callable[[str, str], bytes], proc: str) -> None:
    runner.expect(["cat", "/proc/drbd"], rec("proc_drbd", proc))
    runner.expect(["drbdadm", "sh-minor", "r0"], rec("drbdadm", f"sh-minor_r0-guest-9.22.0-k{K}.txt"))


def test_primary_returns_previous_role_and_undo_demotes(drbd_runner: FakeRunner, rec: Any) -> None:
    """primary on a Secondary: reads the role (/proc/drbd 8.4), promotes, and its undo runs secondary."""
    _with_role(drbd_runner, rec, f"connected_inconsistent-{K}.txt")
    drbd_runner.expect(["drbdadm", "primary", "--force", "r0"])
    drbd_runner.expect(["drbdadm", "secondary", "r0"])
    change = ops.primary("r0", authoritative=True)
    assert change == RoleChange("r0", Role.SECONDARY, Role.PRIMARY)
    assert drbd_runner.calls[-1] == ("drbdadm", "primary", "--force", "r0")
    assert ("cat", "/proc/drbd") in drbd_runner.calls
    drbd_runner.calls.clear()
    run_undo(ops.primary, change, "r0", force=True)
    assert drbd_runner.calls[-1] == ("drbdadm", "secondary", "r0")


def test_primary_on_primary_has_nothing_to_undo(drbd_runner: FakeRunner, rec: Any) -> None:
    """Already Primary: promoting again is harmless and the undo must not demote."""
    _with_role(drbd_runner, rec, f"synced_primary-{K}.txt")
    drbd_runner.expect(["drbdadm", "primary", "r0"])
    change = ops.primary("r0")
    assert change.previous is Role.PRIMARY
    drbd_runner.calls.clear()
    assert run_undo(ops.primary, change, "r0") is None
    assert drbd_runner.calls == []


def test_secondary_undo_promotes_back(drbd_runner: FakeRunner, rec: Any) -> None:
    """secondary on a Primary returns Primary as the previous role; the undo runs primary."""
    _with_role(drbd_runner, rec, f"synced_primary-{K}.txt")
    drbd_runner.expect(["drbdadm", "secondary", "r0"])
    drbd_runner.expect(["drbdadm", "primary", "r0"])
    change = ops.secondary("r0")
    assert change == RoleChange("r0", Role.PRIMARY, Role.SECONDARY)
    drbd_runner.calls.clear()
    run_undo(ops.secondary, change, "r0")
    assert drbd_runner.calls[-1] == ("drbdadm", "primary", "r0")


def test_primary_of_a_down_resource(drbd_runner: FakeRunner, rec: Any) -> None:
    """A resource that is not up has no role: typed ResourceDownError, drbdadm primary never runs."""
    _with_role(drbd_runner, rec, f"after-down-{K}.txt")
    with pytest.raises(ResourceDownError, match="not up"):
        ops.primary("r0")
    assert not any(c[:2] == ("drbdadm", "primary") for c in drbd_runner.calls)


def test_create_md_checks_the_backing_disk(drbd_runner: FakeRunner, rec: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """create_md refuses a disk that is not the resource's configured one (sh-ll-dev), before create-md runs."""
    monkeypatch.setattr("pybofh_drbd.ops.validate_path", lambda p, **_: p)  # the guest's disks are not on this host
    drbd_runner.expect(["drbdadm", "sh-ll-dev", "r0"], rec("drbdadm", f"sh-ll-dev_r0-guest-9.22.0-k{K}.txt"))
    drbd_runner.expect(["drbdadm", "create-md", "--force", "r0"])
    # the data check: the LV is empty (derived: the empty loop device record_checks.py recorded stands for it)
    drbd_runner.expect(["wipefs", "--no-act", "--json", "--", "/dev/drbdvg/r0data"],
                       rec("wipefs", "json_empty-disk-2.38.1.txt"))
    drbd_runner.expect(["lsblk", "--json", "--bytes", "--tree", "-o", "PATH,TYPE,MOUNTPOINTS", "--",
                        "/dev/drbdvg/r0data"], rec("lsblk", "tree-usage_empty-disk-2.38.1.txt"))
    with pytest.raises(ValidationError, match="not the backing disk"):
        ops.create_md("r0", "/dev/sdz9")
    assert ("drbdadm", "create-md", "--force", "r0") not in drbd_runner.calls
    assert ops.create_md("r0", "/dev/drbdvg/r0data") == "/dev/drbdvg/r0data"
    assert drbd_runner.calls[-1] == ("drbdadm", "create-md", "--force", "r0")


@pytest.mark.parametrize("bad", [0, 32, True, "2"])
def test_create_md_bad_max_peers(drbd_runner: FakeRunner, bad: Any) -> None:
    """max_peers must be 1..31: refused before any command, even the read-only resource lookup."""
    with pytest.raises(ValidationError, match="max_peers"):
        ops.create_md("r0", max_peers=bad)
    assert drbd_runner.calls == []


def test_create_md_is_irreversible_in_an_atomic_block(drbd_runner: FakeRunner) -> None:
    """Inside Atomic() create_md is refused unless its target disk was created by the same block."""
    registry = OperationRegistry()
    registry.add_module("drbd", ops)
    with pytest.raises(IrreversibleOperationError, match="create_md"), Atomic(registry=registry, journal=False) as at:
        at.drbd.create_md("r0", "/dev/drbdvg/r0data")
    assert drbd_runner.calls == []


SYSFS_SIZE = ["cat", "/sys/block/drbd0/size"]


def test_resize_to_size_and_inverse(drbd_runner: FakeRunner, rec: Any) -> None:
    """resize --size goes in sectors through '--' (sizes read from sysfs, which works on a Secondary too);
    the undo of a grow sets the size read before it."""
    drbd_runner.expect(["drbdadm", "sh-minor", "r0"], rec("drbdadm", f"sh-minor_r0-guest-9.22.0-k{K}.txt"))
    drbd_runner.expect(SYSFS_SIZE, rec("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    drbd_runner.expect(["drbdadm", "--", ...])
    recorded = 196528 * 512
    result = ops.resize("r0", recorded)  # the replayed device already has the requested size
    assert drbd_runner.calls[-3:] == [tuple(SYSFS_SIZE), ("drbdadm", "--", f"--size={recorded // 512}s", "resize",
                                                          "r0"), tuple(SYSFS_SIZE)]
    assert result == ResizeResult("r0", recorded, recorded)
    assert run_undo(ops.resize, result, "r0", recorded) is None  # unchanged size: nothing to undo
    drbd_runner.calls.clear()
    target = recorded + 8 * 1024 * 1024
    with pytest.raises(DrbdError, match="assume_peer_has_space"):  # the device did not reach the size asked for
        ops.resize("r0", target)
    assert drbd_runner.calls[-2] == ("drbdadm", "--", f"--size={target // 512}s", "resize", "r0")
    drbd_runner.calls.clear()
    grown = ResizeResult("r0", recorded - 8 * 1024 * 1024, recorded)  # what a real grow returns (test_layer_dm)
    with pytest.raises(DrbdError):  # the replayed device does not shrink, but the undo's argv is what counts here
        run_undo(ops.resize, grown, "r0", recorded)
    assert ("drbdadm", "--", f"--size={(recorded - 8 * 1024 * 1024) // 512}s", "resize", "r0") in drbd_runner.calls


def test_resize_assume_peer_has_space(drbd_runner: FakeRunner, rec: Any) -> None:
    """The flag for a node whose peer is away goes before 'resize' after '--'."""
    drbd_runner.expect(["drbdadm", "sh-minor", "r0"], rec("drbdadm", f"sh-minor_r0-guest-9.22.0-k{K}.txt"))
    drbd_runner.expect(SYSFS_SIZE, rec("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    drbd_runner.expect(["drbdadm", "--", ...])
    ops.resize("r0", assume_peer_has_space=True)
    assert ("drbdadm", "--", "--assume-peer-has-space", "resize", "r0") in drbd_runner.calls


@pytest.mark.parametrize("bad", ["-1G", "1.5k", "100", "abc", 4095, 4097])
def test_resize_bad_size_runs_nothing(fake_runner: FakeRunner, bad: Any) -> None:
    """Sizes that are negative, junk, or not a multiple of DRBD's 4 KiB are refused before any command."""
    with pytest.raises(ValidationError):
        ops.resize("r0", bad)
    assert fake_runner.calls == []


def test_resize_to_fill(drbd_runner: FakeRunner, rec: Any) -> None:
    """Without a size: plain 'drbdadm resize'; equal sizes before and after leave nothing to undo."""
    drbd_runner.expect(["drbdadm", "sh-minor", "r0"], rec("drbdadm", f"sh-minor_r0-guest-9.22.0-k{K}.txt"))
    drbd_runner.expect(SYSFS_SIZE, rec("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
    drbd_runner.expect(["drbdadm", "resize", "r0"])
    result = ops.resize("r0")
    assert ("drbdadm", "resize", "r0") in drbd_runner.calls
    assert result.old_size == result.new_size
    assert run_undo(ops.resize, result, "r0") is None


def test_config_file_setting_adds_dash_c(drbd_runner: FakeRunner) -> None:
    """The drbd.config_file setting is passed to every drbdadm call as '-c FILE'."""
    from pybofh_core.session import get_settings

    drbd_runner.expect(["drbdadm", "-c", "/etc/alt.conf", "sh-resources"], "r0\n")
    drbd_runner.expect(["drbdadm", "-c", "/etc/alt.conf", "up", "r0"])
    with get_settings().override(drbd__config_file="/etc/alt.conf"):
        ops.up("r0")
    assert drbd_runner.calls == [("drbdadm", "-c", "/etc/alt.conf", "sh-resources"),
                                 ("drbdadm", "-c", "/etc/alt.conf", "up", "r0")]


def follow_state(runner: FakeRunner, rec: Callable[[str, str], bytes], start: str,
                 after: dict[str, str]) -> None:
    """/proc/drbd as the guests recorded it, starting at ``start``; each ``drbdadm VERB r0`` moves it to
    ``after[VERB]`` (so identity checks see what a real node would show)."""
    runner.expect(["cat", "/proc/drbd"], rec("proc_drbd", f"{start}-{K}.txt"))
    proc_reply = runner.replies[0]  # the reply just added: its output changes with the state
    runner.expect(["drbdadm", "sh-minor", "r0"], rec("drbdadm", f"sh-minor_r0-guest-9.22.0-k{K}.txt"))

    def move(verb: str) -> Callable[[tuple[str, ...], bytes | None], None]:
        def effect(_argv: tuple[str, ...], _data: bytes | None) -> None:
            proc_reply.stdout = rec("proc_drbd", f"{after[verb]}-{K}.txt")
        return effect

    for verb in after:
        runner.expect(["drbdadm", verb, "r0"], effect=move(verb))


def test_atomic_rollback_runs_inverses_newest_first(drbd_runner: FakeRunner, rec: Any) -> None:
    """up + primary, then a failure: rollback demotes, then takes the resource down."""
    follow_state(drbd_runner, rec, "after-down", {"up": "connected_inconsistent", "primary": "syncsource_primary",
                                                  "secondary": "connected_inconsistent", "down": "after-down"})
    registry = OperationRegistry()
    registry.add_module("drbd", ops)
    with pytest.raises(RuntimeError, match="boom"), Atomic(registry=registry, journal=False) as at:
        at.drbd.up("r0")
        at.drbd.primary("r0")
        raise RuntimeError("boom")
    verbs = ("up", "primary", "secondary", "down")
    mutating = [c for c in drbd_runner.calls if c[:1] == ("drbdadm",) and c[1] in verbs]
    assert mutating == [("drbdadm", "up", "r0"), ("drbdadm", "primary", "r0"), ("drbdadm", "secondary", "r0"),
                        ("drbdadm", "down", "r0")]


def test_dry_run_plans_commands_and_undos(drbd_runner: FakeRunner, rec: Any) -> None:
    """Atomic(dry_run=True): reads still run, mutating commands are only planned, with their undo."""
    _with_role(drbd_runner, rec, f"connected_inconsistent-{K}.txt")
    registry = OperationRegistry()
    registry.add_module("drbd", ops)
    with Atomic(registry=registry, dry_run=True) as at:
        at.drbd.up("r0")
        at.drbd.primary("r0")
    plan = at.plan
    assert [p["commands"] for p in plan] == [["drbdadm up r0"], ["drbdadm primary r0"]]
    assert [p["undo_commands"] for p in plan] == [["drbdadm down r0"], ["drbdadm secondary r0"]]
    assert not any(c[1] in ("up", "primary") for c in drbd_runner.calls if c[0] == "drbdadm")


def test_every_operation_has_an_inverse_or_a_reason() -> None:
    """The meta rule: each registered DRBD operation declares its undo or why it has none."""
    registry = OperationRegistry()
    registry.add_module("drbd", ops)
    specs = list(registry.specs("drbd"))
    assert {s.name for s in specs} == set(SIMPLE) | {"primary", "secondary", "create_md", "resize"}
    for spec in specs:  # one of: an inverse, irreversible, or nothing to undo (verify: no_undo since the trust rules)
        kinds = (spec.inverse is not None, spec.irreversible is not None, spec.no_undo is not None)
        assert sum(kinds) == 1, spec.name
    assert spec_of(ops.create_md).target == "disk"  # type: ignore[union-attr]
