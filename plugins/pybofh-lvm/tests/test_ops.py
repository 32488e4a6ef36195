"""Operations with the fake runner replaying real recordings: argv of each operation and of its inverse, validation
before any command, extent-size checks, and the seed's atomic example rolled back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import (
    CommandError,
    DataAtRiskError,
    IrreversibleOperationError,
    NotFoundError,
    ToolUnavailableError,
    ValidationError,
)
from pybofh_core.operations import spec_of
from pybofh_core.rollback import perform
from pybofh_core.runner import FakeRunner, get_runner
from pybofh_lvm import facts, ops
from pybofh_lvm.errors import ExtentSizeError, LvNotFoundError, VgNotFoundError

VG = "pybofhrec"  # the VG of the host recordings (tests/record.py)
MIB = 1024**2


@pytest.fixture
def lvm_state(fake_runner: FakeRunner, rec: Callable[..., Any]) -> Callable[..., FakeRunner]:
    """Make the report commands answer with recordings: ``lvm_state(pvs="vg-and-orphan", vgs=..., lvs=...)``."""

    def use(*, pvs: str | None = None, vgs: str | None = None, lvs: str | None = None) -> FakeRunner:
        for tool, case, argv in (("pvs", pvs, facts.pvs_argv()), ("vgs", vgs, facts.vgs_argv()),
                                 ("lvs", lvs, facts.lvs_argv())):
            if case is not None:
                r = rec(tool, case)
                fake_runner.expect(argv, r.stdout, stderr=r.stderr, returncode=r.returncode)
        return fake_runner

    return use


def mutating(runner: FakeRunner) -> list[tuple[str, ...]]:
    """The commands that change state (the report commands filtered out)."""
    reads = {"pvs", "vgs", "lvs", "wipefs", "lsblk", "blkid"}
    return [c for c in runner.calls if c[0] not in reads]


def run_undo(result: Any, func: Callable[..., Any], *, check_identity: bool = True, **bound: Any) -> Any:
    """Compute the registered inverse of ``func`` for ``result`` and run it as a rollback does: its identity checked
    first (unless ``check_identity=False``), data checks off. Return the Undo."""
    spec = spec_of(func)
    assert spec is not None
    u = spec.undo_for(result, bound)
    assert u is not None, "expected an inverse"
    outcome = perform(u.func, u.args, u.kwargs, u.identity if check_identity else None, get_runner())
    if outcome.error is not None:
        raise outcome.error
    assert outcome.state == "undone", outcome
    return u


def then_lvs(runner: FakeRunner, stdout: bytes) -> Callable[[Any, Any], None]:
    """An ``effect=``: from now on ``lvs`` answers with ``stdout`` (the state the command left behind)."""
    return lambda argv, data: runner.expect(facts.lvs_argv(), stdout)


# --- logical volumes ----------


def test_create_lv_argv_and_inverse(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any]) -> None:
    """lvcreate, then the LV is read back: its UUID is the undo's identity, and the undo removes that very LV."""
    runner = lvm_state(vgs="one-vg-empty", lvs="vg-without-lvs")
    runner.expect(["lvcreate", ...], effect=then_lvs(runner, rec("lvs", "two-lvs-unknown").stdout))
    runner.expect(["lvremove", ...])
    lv = ops.create_lv(VG, "data", "64M")
    assert (lv.vg, lv.name, lv.size_bytes, lv.path, lv.mapper_path) == (
        VG, "data", 64 * MIB, f"/dev/{VG}/data", f"/dev/mapper/{VG}-data")
    assert lv.uuid == "uz5bCE-iYEt-1kVf-fBHc-TguK-gLcH-nNpxpk"  # read back from lvs, not echoed from arguments
    assert run_undo(lv, ops.create_lv).identity == {"uuid": lv.uuid}
    assert mutating(runner) == [
        ("lvcreate", "--yes", "-n", "data", "-L", f"{64 * MIB}b", "--", VG),
        ("lvremove", "--yes", "--", f"{VG}/data"),
    ]


def test_create_lv_refuses_a_size_lvm_would_round(lvm_state: Callable[..., FakeRunner]) -> None:
    runner = lvm_state(vgs="one-vg-empty")
    with pytest.raises(ExtentSizeError, match=r"4194304 bytes.*ask for 8388608 bytes \(8.0 MiB\) or 12582912 bytes"):
        ops.create_lv(VG, "data", 10 * MIB)
    assert mutating(runner) == []


def test_create_lv_in_a_missing_vg(lvm_state: Callable[..., FakeRunner]) -> None:
    runner = lvm_state(vgs="one-vg-empty")
    with pytest.raises(VgNotFoundError):
        ops.create_lv("nosuchvg", "data", "64M")
    assert isinstance(VgNotFoundError("x"), NotFoundError)
    assert mutating(runner) == []


@pytest.mark.parametrize(
    ("vg", "name", "size"),
    [
        ("-vg", "data", "1G"), ("vg", "-data", "1G"), ("vg", "da ta", "1G"), ("vg/x", "data", "1G"),
        ("vg", "..", "1G"), ("vg", "data", "-1G"), ("vg", "data", "ten"), ("vg", "data", 0), ("vg", "data", "1.5b"),
        ("vg", "snapshot1", "1G"), ("vg", "pool_tmeta", "1G"), ("vg", "x" * 128, "1G"), ("vg", "dätä", "1G"),
    ],
)
def test_create_lv_bad_input_runs_nothing(fake_runner: FakeRunner, vg: str, name: str, size: Any) -> None:
    with pytest.raises(ValidationError):
        ops.create_lv(vg, name, size)
    assert fake_runner.calls == []


def test_create_lv_failure_is_a_command_error(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any]) -> None:
    """The real stderr of lvcreate on a kernel without device-mapper surfaces in the typed error."""
    runner = lvm_state(vgs="one-vg-empty")
    failed = rec("lvcreate", "no-device-mapper-error")
    runner.expect(["lvcreate", ...], failed.stdout, stderr=failed.stderr, returncode=failed.returncode)
    with pytest.raises(CommandError, match="Run `lvcreate --help'") as info:
        ops.create_lv(VG, "x", "4M")
    assert info.value.returncode == failed.returncode


def test_thin_pool_and_thin_lv_argv(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any]) -> None:
    """The recorded pool is 64 MiB and thin1 128 MiB (read back after each lvcreate); each undo removes its LV."""
    runner = lvm_state(vgs="one-vg-empty", lvs="data-and-thin1-inactive")
    runner.expect(["lvcreate", ...]).expect(["lvremove", ...])
    pool = ops.create_thin_pool(VG, "pool", "64M")
    thin = ops.create_thin_lv(VG, "pool", "thin1", "128M")
    run_undo(thin, ops.create_thin_lv)
    run_undo(pool, ops.create_thin_pool)
    assert mutating(runner) == [
        ("lvcreate", "--yes", "--type", "thin-pool", "--poolmetadataspare", "n", "-n", "pool", "-L",
         f"{64 * MIB}b", "--", VG),
        ("lvcreate", "--yes", "--type", "thin", "-n", "thin1", "-V", f"{128 * MIB}b", "--thinpool", "pool", "--", VG),
        ("lvremove", "--yes", "--", f"{VG}/thin1"),
        ("lvremove", "--yes", "--", f"{VG}/pool"),
    ]
    assert (thin.pool, thin.size_bytes, pool.segtype) == ("pool", 128 * MIB, "thin-pool")


def test_thick_snapshot_argv_and_inverse(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any]) -> None:
    runner = lvm_state(vgs="two-pvs-two-lvs", lvs="two-lvs-unknown")
    runner.expect(["lvcreate", ...], effect=then_lvs(runner, rec("lvs", "thin-and-snapshots-active").stdout))
    runner.expect(["lvremove", ...])
    snap = ops.snapshot_lv(VG, "data", "data-snap", "16M")
    run_undo(snap, ops.snapshot_lv)
    assert mutating(runner) == [
        ("lvcreate", "--yes", "-s", "-n", "data-snap", "-L", f"{16 * MIB}b", "--", f"{VG}/data"),
        ("lvremove", "--yes", "--", f"{VG}/data-snap"),
    ]
    assert snap.origin == "data"


def test_snapshot_without_size_needs_a_thin_origin(lvm_state: Callable[..., FakeRunner]) -> None:
    runner = lvm_state(lvs="two-lvs-unknown")
    with pytest.raises(ValidationError, match="not a thin LV"):
        ops.snapshot_lv(VG, "data", "snap")
    assert mutating(runner) == []


def test_resize_lv_reports_old_and_new_size_and_resizes_back(lvm_state: Callable[..., FakeRunner],
                                                             rec: Callable[..., Any]) -> None:
    runner = lvm_state(vgs="two-pvs-two-lvs", lvs="two-lvs-unknown")
    resized = rec("lvs", "data-resized-128m-unknown")
    runner.expect(["lvresize", ...], effect=lambda argv, data: runner.expect(facts.lvs_argv(), resized.stdout))
    res = ops.resize_lv(VG, "data", "128M")
    assert (res.old_size_bytes, res.new_size_bytes) == (64 * MIB, 128 * MIB)
    run_undo(res, ops.resize_lv)
    assert mutating(runner) == [
        ("lvresize", "--yes", "-L", f"{128 * MIB}b", "--", f"{VG}/data"),
        ("lvresize", "--yes", "-L", f"{64 * MIB}b", "--", f"{VG}/data"),
    ]


def test_resize_lv_to_its_size_runs_nothing_and_has_no_undo(lvm_state: Callable[..., FakeRunner]) -> None:
    runner = lvm_state(vgs="two-pvs-two-lvs", lvs="two-lvs-unknown")
    res = ops.resize_lv(VG, "data", 64 * MIB)
    assert res.old_size_bytes == res.new_size_bytes == 64 * MIB
    assert spec_of(ops.resize_lv).undo_for(res, {}) is None  # type: ignore[union-attr]
    assert mutating(runner) == []


def test_resize_lv_refuses_partial_extents_and_missing_lvs(lvm_state: Callable[..., FakeRunner]) -> None:
    runner = lvm_state(vgs="two-pvs-two-lvs", lvs="two-lvs-unknown")
    with pytest.raises(ExtentSizeError):
        ops.resize_lv(VG, "data", 64 * MIB + 512)
    with pytest.raises(LvNotFoundError):
        ops.resize_lv(VG, "nosuch", "64M")
    assert mutating(runner) == []


@pytest.mark.parametrize("size, round_, expected", [
    ("+64M", None, lambda vg: 128 * MIB),
    ("+50%FREE", None, lambda vg: 64 * MIB + (vg.free_bytes // 2) // vg.extent_size * vg.extent_size),
    ("100%VG", None, lambda vg: vg.size_bytes // vg.extent_size * vg.extent_size),
    (64 * MIB + 512, "up", lambda vg: 68 * MIB),
])
def test_resize_lv_takes_sizes_the_way_administrators_write_them(
    lvm_state: Callable[..., FakeRunner], size: Any, round_: str | None, expected: Callable[[Any], int]
) -> None:
    """Relative (+64M), a share of the free space (+50%FREE) or of the VG (100%VG), rounded down to whole extents;
    an absolute size off the extent grid only with round="up"|"down". The undo goes back to the exact old size."""
    runner = lvm_state(vgs="two-pvs-two-lvs", lvs="two-lvs-unknown")
    vg = facts.get_vg(VG)
    runner.expect(["lvresize", ...])
    res = ops.resize_lv(VG, "data", size, round=round_)
    assert (res.old_size_bytes, res.new_size_bytes) == (64 * MIB, expected(vg))
    assert mutating(runner) == [("lvresize", "--yes", "-L", f"{expected(vg)}b", "--", f"{VG}/data")]


@pytest.mark.parametrize("size, message", [
    ("+64M", "a relative size is not accepted here"),
    ("150%FREE", "at most 100"),
    ("50%PVS", "cannot read"),
])
def test_create_lv_refuses_relative_and_bad_percentages(lvm_state: Callable[..., FakeRunner], size: str,
                                                       message: str) -> None:
    """A new LV has no current size to grow from; percentages are of FREE or VG, at most 100."""
    runner = lvm_state(vgs="one-vg-empty")
    with pytest.raises(ValidationError, match=message):
        ops.create_lv(VG, "data", size)
    assert mutating(runner) == []


def test_rename_lv_and_back(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any]) -> None:
    """The LV's UUID is read before the rename; the undo renames back the LV with that UUID (and is journalled
    ahead: it is known before lvrename runs)."""
    runner = lvm_state(lvs="two-lvs-unknown")
    renamed = rec("lvs", "two-lvs-unknown").stdout.replace(b'"lv_name":"data"', b'"lv_name":"data2"')
    renamed = renamed.replace(b"/pybofhrec/data", b"/pybofhrec/data2").replace(b"pybofhrec-data", b"pybofhrec-data2")
    runner.expect(["lvrename", ...], effect=then_lvs(runner, renamed))
    res = ops.rename_lv(VG, "data", "data2")
    assert res.uuid == "uz5bCE-iYEt-1kVf-fBHc-TguK-gLcH-nNpxpk"
    u = run_undo(res, ops.rename_lv)
    assert u.identity == {"uuid": res.uuid}
    assert mutating(runner) == [("lvrename", "--", VG, "data", "data2"), ("lvrename", "--", VG, "data2", "data")]


@pytest.mark.parametrize("new", ["data", "-x", "a b", "x_rimage_0", ""])
def test_rename_lv_bad_names(fake_runner: FakeRunner, new: str) -> None:
    with pytest.raises(ValidationError):
        ops.rename_lv(VG, "data", new)
    assert fake_runner.calls == []


def test_activation_needs_a_known_state(lvm_state: Callable[..., FakeRunner]) -> None:
    """Without device-mapper lvs reports the state as X; activation then says why it cannot work."""
    runner = lvm_state(lvs="two-lvs-unknown")
    with pytest.raises(ToolUnavailableError, match="device-mapper"):
        ops.activate_lv(VG, "data")
    with pytest.raises(ToolUnavailableError):
        ops.deactivate_lv(VG, "data")
    assert mutating(runner) == []


def test_remove_lv_argv_and_no_undo(lvm_state: Callable[..., FakeRunner]) -> None:
    """An LV whose state LVM cannot report (no device-mapper: attr X) cannot be checked: refused without force."""
    runner = lvm_state(lvs="two-lvs-unknown")
    runner.expect(["lvremove", ...])
    with pytest.raises(DataAtRiskError, match=r"inactive.*--force"):
        ops.remove_lv(VG, "with-dash")
    assert mutating(runner) == []
    ops.remove_lv(VG, "with-dash", force=True)
    assert mutating(runner) == [("lvremove", "--yes", "--", f"{VG}/with-dash")]
    spec = spec_of(ops.destroy_lv)
    assert spec is not None and spec.irreversible and spec.inverse is None and spec.check is not None


def test_remove_lv_refuses_a_pool_with_thin_volumes_and_an_origin_with_snapshots(
    lvm_state: Callable[..., FakeRunner],
) -> None:
    """lvremove --yes would take the thin volumes or the snapshots with it: pybofh asks first (force overrides)."""
    runner = lvm_state(lvs="thin-and-snapshots-active")
    with pytest.raises(DataAtRiskError, match=r"thin pool pybofhrec/pool holds thin volumes \(pybofhrec/thin1"):
        ops.remove_lv(VG, "pool")
    with pytest.raises(DataAtRiskError, match=r"has snapshots \(pybofhrec/data-snap\)"):
        ops.remove_lv(VG, "data")
    with pytest.raises(DataAtRiskError, match=r"has snapshots \(pybofhrec/thin1-snap\)"):
        ops.remove_lv(VG, "thin1")
    assert mutating(runner) == []


def test_shrinking_an_lv_whose_content_cannot_be_checked_is_refused(lvm_state: Callable[..., FakeRunner]) -> None:
    """A shrink needs the content known to fit; an LV whose state is unknown cannot be checked: force or refusal."""
    runner = lvm_state(vgs="two-pvs-two-lvs", lvs="two-lvs-unknown")
    runner.expect(["lvresize", ...])
    with pytest.raises(DataAtRiskError, match="cannot check that its content fits"):
        ops.resize_lv(VG, "data", "32M")
    assert mutating(runner) == []
    res = ops.resize_lv(VG, "data", "32M", force=True)
    assert res.new_size_bytes == 32 * MIB and mutating(runner) == [("lvresize", "--yes", "-L", f"{32 * MIB}b", "--",
                                                                     f"{VG}/data")]


# --- physical volumes and volume groups ----------


def test_create_pv_and_remove(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any],
                              block_nodes: Callable[..., list[str]]) -> None:
    """pvcreate after pybofh's own signature check (wipefs, lsblk: nothing there, so no --yes), the PV read back;
    the undo removes the PV with that UUID."""
    after = rec("pvs", "vg-and-orphan")
    dev = after.expected["pvs"][1]["name"]
    block_nodes(dev)
    runner = lvm_state(pvs="two-loops-no-pv")
    for tool, case in (("wipefs", "json-empty"), ("lsblk", "tree-usage-empty")):
        runner.expect([*rec(tool, case).argv[:-1], dev], rec(tool, case).stdout)
    runner.expect(["pvcreate", ...], effect=lambda argv, data: runner.expect(facts.pvs_argv(), after.stdout))
    runner.expect(["pvremove", ...])
    pv = ops.create_pv(dev)
    assert pv.uuid and pv.uuid == facts.get_pv(dev).uuid
    u = run_undo(pv, ops.create_pv)
    assert u.identity == {"uuid": pv.uuid}
    assert mutating(runner) == [("pvcreate", "--", dev), ("pvremove", "--", dev)]


def test_create_pv_over_a_filesystem_needs_force(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any],
                                                 block_nodes: Callable[..., list[str]]) -> None:
    """pybofh checks for signatures itself; only with force does it let LVM wipe them (--yes)."""
    (dev,) = block_nodes("/dev/loop7")
    runner = lvm_state(pvs="two-loops-no-pv")
    for tool, case in (("wipefs", "json-ext4"), ("lsblk", "tree-usage-empty")):
        runner.expect([*rec(tool, case).argv[:-1], dev], rec(tool, case).stdout)
    runner.expect(["pvcreate", ...])
    with pytest.raises(DataAtRiskError, match=r"already contains ext4 .*--force"):
        ops.create_pv(dev)
    assert mutating(runner) == []
    with pytest.raises(LookupError):  # no recorded pvs shows loop7 as a PV afterwards: the read-back fails
        ops.create_pv(dev, force=True)
    assert mutating(runner) == [("pvcreate", "--yes", "--", dev)]


def test_create_pv_refuses_an_existing_pv(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any],
                                          block_nodes: Callable[..., list[str]]) -> None:
    pv_dev = rec("pvs", "vg-and-orphan").expected["pvs"][1]["name"]
    (dev,) = block_nodes(pv_dev)
    runner = lvm_state(pvs="vg-and-orphan")
    with pytest.raises(ValidationError, match="already an LVM physical volume"):
        ops.create_pv(dev)
    assert mutating(runner) == []


@pytest.mark.parametrize("dev", ["-dev/loop0", "relative/path", "/nonexistent/dev", "/dev/null", "/tmp"])
def test_pv_device_validation(fake_runner: FakeRunner, dev: str) -> None:
    with pytest.raises((ValidationError, NotFoundError)):
        ops.create_pv(dev)
    with pytest.raises((ValidationError, NotFoundError)):
        ops.remove_pv(dev)
    assert fake_runner.calls == []


def test_create_vg_on_new_devices_undo_removes_their_labels(
    lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any], block_nodes: Callable[..., list[str]]
) -> None:
    after = rec("pvs", "two-pvs-in-vg")
    a, b = block_nodes(*(p["name"] for p in after.expected["pvs"]))
    runner = lvm_state(pvs="two-loops-no-pv", lvs="vg-without-lvs")
    runner.expect(["vgcreate", ...], effect=lambda argv, data: (
        runner.expect(facts.pvs_argv(), after.stdout), runner.expect(facts.vgs_argv(), rec("vgs", "two-pvs-two-lvs")
                                                                      .stdout)))
    runner.expect(["vgremove", ...], effect=lambda argv, data: runner.expect(facts.pvs_argv(), rec(
        "pvs", "two-loops-no-pv").stdout))
    runner.expect(["pvremove", ...])
    vg = ops.create_vg(VG, [a, b], extent_size="4M")
    assert vg.initialized == (a, b) and vg.uuid == facts.get_vg(VG).uuid
    u = run_undo(vg, ops.create_vg)
    assert u.identity == {"uuid": vg.uuid}
    assert mutating(runner) == [
        ("vgcreate", "-s", f"{4 * MIB}b", "--", VG, a, b),
        ("vgremove", "--", VG),
        ("pvremove", "--", a),
        ("pvremove", "--", b),
    ]


def test_create_vg_bad_input(fake_runner: FakeRunner, block_nodes: Callable[..., list[str]]) -> None:
    (a,) = block_nodes("/dev/loop7")
    for args, kwargs in [(("vg", []), {}), (("vg", [a, a]), {}), (("-vg", [a]), {}),
                         (("vg", [a]), {"extent_size": "3M"}), (("vg", [a]), {"extent_size": 512})]:
        with pytest.raises(ValidationError):
            ops.create_vg(*args, **kwargs)
    assert fake_runner.calls == []


def test_remove_vg_refuses_a_vg_with_lvs(lvm_state: Callable[..., FakeRunner]) -> None:
    runner = lvm_state(lvs="two-lvs-unknown")
    with pytest.raises(ValidationError, match=f"{VG}/data"):
        ops.remove_vg(VG)
    assert mutating(runner) == []


def test_extend_and_reduce_vg(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any],
                              block_nodes: Callable[..., list[str]]) -> None:
    orphan = rec("pvs", "vg-and-orphan").expected["pvs"][1]["name"]
    (dev,) = block_nodes(orphan)
    runner = lvm_state(pvs="vg-and-orphan", vgs="one-vg-empty")
    runner.expect(["vgextend", ...]).expect(["vgreduce", ...])
    res = ops.extend_vg(VG, dev)
    assert res.initialized is False  # it was a PV already: undo keeps its label
    assert res.vg_uuid == facts.get_vg(VG).uuid
    run_undo(res, ops.extend_vg, check_identity=False)  # the fake state does not follow vgextend
    back = ops.reduce_vg(VG, dev)
    assert run_undo(back, ops.reduce_vg).identity == {"uuid": res.vg_uuid}
    assert mutating(runner) == [("vgextend", "--", VG, dev), ("vgreduce", "--", VG, dev),
                                ("vgreduce", "--", VG, dev), ("vgextend", "--", VG, dev)]


def test_extend_vg_refuses_a_pv_of_another_vg(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any],
                                              block_nodes: Callable[..., list[str]]) -> None:
    member = rec("pvs", "vg-and-orphan").expected["pvs"][0]["name"]
    (dev,) = block_nodes(member)
    runner = lvm_state(pvs="vg-and-orphan")
    with pytest.raises(ValidationError, match="already belongs"):
        ops.extend_vg("othervg", dev)
    assert mutating(runner) == []


def test_resize_pv_and_back(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any],
                            block_nodes: Callable[..., list[str]]) -> None:
    after = rec("pvs", "setphysicalvolumesize-200m")
    (dev,) = block_nodes(after.expected["pvs"][0]["name"])
    runner = lvm_state(pvs="two-pvs-in-vg", vgs="two-pvs-two-lvs")
    runner.expect(["pvresize", "--yes", ...], effect=lambda argv, data: runner.expect(facts.pvs_argv(), after.stdout))
    runner.expect(["pvresize", "--", dev])
    res = ops.resize_pv(dev, "200M")
    assert (res.old_size_bytes, res.new_size_bytes) == (None, 200 * MIB)  # it filled its device before
    run_undo(res, ops.resize_pv)
    assert mutating(runner) == [
        ("pvresize", "--yes", "--setphysicalvolumesize", f"{200 * MIB}b", "--", dev),
        ("pvresize", "--", dev),
    ]


def test_resize_pv_remembers_a_partial_claim(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any],
                                             block_nodes: Callable[..., list[str]]) -> None:
    """A PV that claimed 200 MiB of its device is given back exactly its 49 extents (pe_start + pv_size)."""
    before = rec("pvs", "setphysicalvolumesize-200m")
    (dev,) = block_nodes(before.expected["pvs"][0]["name"])
    runner = lvm_state(pvs="setphysicalvolumesize-200m", vgs="two-pvs-two-lvs")
    runner.expect(["pvresize", ...])
    res = ops.resize_pv(dev)
    assert res.old_size_bytes == MIB + 49 * 4 * MIB and res.new_size_bytes is None
    assert mutating(runner) == [("pvresize", "--", dev)]


# --- atomic blocks ----------


class Boom(Exception):
    """The failure injected into an atomic block."""


def test_seed_example_failure_removes_the_lv(
    lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any], lvs_with: Callable[..., bytes],
) -> None:
    """``atomic.lvm.createLV("my_vg", "my_vm", "10gb")`` then a failing step: the LV is removed again."""
    runner = lvm_state(vgs="one-vg-empty", lvs="vg-without-lvs")
    made = lvs_with(rec("lvs", "two-lvs-unknown"), "my_vm", 10 * 1024 * MIB)
    runner.expect(["lvcreate", ...], effect=then_lvs(runner, made)).expect(["lvremove", ...])
    with pytest.raises(Boom), Atomic() as atomic:
        atomic.lvm.createLV(VG, "my_vm", "10gb")
        raise Boom("create_filesystem failed")
    assert mutating(runner) == [
        ("lvcreate", "--yes", "-n", "my_vm", "-L", f"{10 * 1024 * MIB}b", "--", VG),
        ("lvremove", "--yes", "--", f"{VG}/my_vm"),
    ]


def test_atomic_success_undoes_nothing(
    lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any], lvs_with: Callable[..., bytes],
) -> None:
    runner = lvm_state(vgs="one-vg-empty", lvs=None)
    runner.expect(facts.lvs_argv(), lvs_with(rec("lvs", "two-lvs-unknown"), "my_vm", 64 * MIB))
    runner.expect(["lvcreate", ...])
    with Atomic() as atomic:
        atomic.lvm.create_lv(VG, "my_vm", "64M")
    assert [c[0] for c in mutating(runner)] == ["lvcreate"]


def test_atomic_allows_removing_only_what_it_created(
    lvm_state: Callable[..., FakeRunner],
                                                    rec: Callable[..., Any], lvs_with: Callable[..., bytes],
) -> None:
    runner = lvm_state(vgs="one-vg-empty")
    runner.expect(facts.lvs_argv(), lvs_with(rec("lvs", "two-lvs-unknown"), "tmp", 64 * MIB))
    runner.expect(["lvcreate", ...]).expect(["lvremove", ...])
    with pytest.raises(IrreversibleOperationError), Atomic() as atomic:
        atomic.lvm.remove_lv(VG, "data")  # existed before the block
    assert mutating(runner) == []
    with Atomic() as atomic:
        atomic.lvm.create_lv(VG, "tmp", "64M")
        atomic.lvm.removeLV(VG, "tmp")
    assert [c[0] for c in mutating(runner)] == ["lvcreate", "lvremove"]


def test_atomic_rollback_order(
    lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any], lvs_with: Callable[..., bytes],
) -> None:
    runner = lvm_state(vgs="two-pvs-two-lvs")
    base = lvs_with(rec("lvs", "two-lvs-unknown"), "new", 8 * MIB)
    runner.expect(facts.lvs_argv(), base)
    resized = lvs_with(rec("lvs", "data-resized-128m-unknown"), "new", 8 * MIB)
    renamed = resized.replace(b'"lv_name": "with-dash"', b'"lv_name": "renamed"')
    runner.expect(["lvcreate", ...]).expect(["lvremove", ...])
    runner.expect(["lvrename", "--", VG, "with-dash", "renamed"], effect=then_lvs(runner, renamed))
    runner.expect(["lvrename", "--", VG, "renamed", "with-dash"], effect=then_lvs(runner, resized))
    runner.expect(["lvresize", ...], effect=then_lvs(runner, resized))
    with pytest.raises(Boom), Atomic() as atomic:
        atomic.lvm.create_lv(VG, "new", "8M")
        atomic.lvm.resize_lv(VG, "data", "128M")
        atomic.lvm.rename_lv(VG, "with-dash", "renamed")
        raise Boom
    assert [c[0] for c in mutating(runner)] == ["lvcreate", "lvresize", "lvrename", "lvrename", "lvresize", "lvremove"]
    assert mutating(runner)[3] == ("lvrename", "--", VG, "renamed", "with-dash")
    assert mutating(runner)[4] == ("lvresize", "--yes", "-L", f"{64 * MIB}b", "--", f"{VG}/data")


def test_dry_run_plans_commands_and_their_undo(lvm_state: Callable[..., FakeRunner]) -> None:
    runner = lvm_state(vgs="one-vg-empty")
    with Atomic(dry_run=True) as atomic:
        atomic.lvm.create_lv(VG, "planned", "64M")
    assert mutating(runner) == []  # only the read-only vgs ran
    (step,) = atomic.plan
    assert step["commands"] == [f"lvcreate --yes -n planned -L {64 * MIB}b -- {VG}"]
    assert step["undo_commands"] == [f"lvremove --yes -- {VG}/planned"]


def test_every_operation_has_an_inverse_or_a_reason() -> None:
    from pybofh_core.operations import OperationRegistry

    registry = OperationRegistry()
    registry.add_module("lvm", ops)
    for spec in registry.specs("lvm"):
        assert spec.inverse is not None or spec.irreversible or spec.no_undo or spec.composite, spec.name
        assert spec.func.__doc__, spec.name
    for alias in ("createLV", "removeLV", "createPV", "removePV", "createVG", "removeVG"):
        assert registry.has(f"lvm.{alias}")


# --- activation (VM recordings: real active/inactive states) ----------


def test_activate_an_inactive_lv_and_undo(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any]) -> None:
    runner = lvm_state(lvs="data-and-thin1-inactive")
    active = rec("lvs", "data-mounted")
    runner.expect(["lvchange", "--activate", "y", ...],
                  effect=lambda argv, data: runner.expect(facts.lvs_argv(), active.stdout))
    runner.expect(["lvchange", "--activate", "n", ...])
    res = ops.activate_lv(VG, "thin1")
    assert (res.was_active, res.active, res.changed) == (False, True, True)
    run_undo(res, ops.activate_lv)
    assert mutating(runner) == [
        ("lvchange", "--activate", "y", "--ignoreactivationskip", "--", f"{VG}/thin1"),
        ("lvchange", "--activate", "n", "--", f"{VG}/thin1"),
    ]


def test_activating_an_active_lv_runs_nothing_and_has_no_undo(lvm_state: Callable[..., FakeRunner]) -> None:
    runner = lvm_state(lvs="data-mounted")
    res = ops.activate_lv(VG, "thin1")
    assert not res.changed and spec_of(ops.activate_lv).undo_for(res, {}) is None  # type: ignore[union-attr]
    off = ops.deactivate_lv(VG, "thin1-snap")  # a thin snapshot LVM left inactive (activation skip flag)
    assert not off.changed
    assert mutating(runner) == []


def test_deactivate_and_undo(lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any]) -> None:
    runner = lvm_state(lvs="data-mounted")
    inactive = rec("lvs", "data-and-thin1-inactive")
    runner.expect(["lvchange", "--activate", "n", ...],
                  effect=lambda argv, data: runner.expect(facts.lvs_argv(), inactive.stdout))
    runner.expect(["lvchange", "--activate", "y", ...])
    res = ops.deactivate_lv(VG, "data")
    run_undo(res, ops.deactivate_lv)
    assert mutating(runner) == [
        ("lvchange", "--activate", "n", "--", f"{VG}/data"),
        ("lvchange", "--activate", "y", "--ignoreactivationskip", "--", f"{VG}/data"),
    ]


def test_thin_snapshot_argv(
    lvm_state: Callable[..., FakeRunner], rec: Callable[..., Any], lvs_with: Callable[..., bytes],
) -> None:
    runner = lvm_state(lvs="data-mounted")
    runner.expect(["lvcreate", ...], effect=then_lvs(runner, lvs_with(rec("lvs", "data-mounted"), "thin1-snap2",
                                                                     128 * MIB, like="thin1-snap")))
    snap = ops.snapshot_lv(VG, "thin1", "thin1-snap2")
    assert (snap.pool, snap.origin, snap.size_bytes) == ("pool", "thin1", 128 * MIB)
    assert mutating(runner) == [("lvcreate", "--yes", "-s", "-n", "thin1-snap2", "--", f"{VG}/thin1")]
