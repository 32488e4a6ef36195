"""Undo by identity and data checks with a fake runner replaying real outputs (``recordings/record_checks.py``).

For each undo: the identity it carries, and the verdict of its identity check on what a real system showed — the
step's own object (act), nothing there any more (already undone), another object at the same place (left alone).
For ``delete_subvolume`` and ``remove_stream``: what the data check refuses without ``force``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_btrfs import ops
from pybofh_btrfs.errors import SubvolumeNotFoundError
from pybofh_btrfs.types import CreatedSubvolume, DefaultChange, JobStarted, SendStream
from pybofh_core.errors import DataAtRiskError
from pybofh_core.operations import bind, spec_of
from pybofh_core.rollback import perform
from pybofh_core.runner import FakeRunner

CREATED_UUID = "e76524d8-c27f-1b47-b637-609dd24ed138"  # subvolume_show_created
SNAPSHOT_UUID = "ba1a0eac-cfbd-8249-800f-eccb9adc2d8b"  # subvolume_show_snapshot-created
FS_UUID = "14d038a0-e7c1-4ae8-b4e6-78e500facc74"  # filesystem_show_--raw_mnt
STREAM = "65024:2171790:1796214281"  # stat_stream


@pytest.fixture
def subvols(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Which paths are subvolume roots (True) or plain directories (False); others do not exist."""
    table: dict[str, bool] = {}

    def is_root(path: str, what: str = "") -> bool:
        if path not in table:
            raise SubvolumeNotFoundError(f"{what}: {path} does not exist")
        return table[path]

    monkeypatch.setattr("pybofh_btrfs.checks.is_subvolume_root", is_root)
    return table


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Kinds of the paths the runner is asked about (``dir``, ``file``…); others do not exist."""
    kinds: dict[str, str] = {}
    monkeypatch.setattr("pybofh_core.runner.local_path_kind", lambda path: kinds.get(path))
    return kinds


def replay(fake_runner: FakeRunner, rec: Any, case: str) -> None:
    """Answer a record_checks.py case's own argv with its real output and exit status."""
    fake_runner.expect(rec.argv(case), stdout=rec.out(case), stderr=rec.err(case), returncode=rec.rc(case))


def verdict(op: Any, identity: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    """What ``op``'s identity check says before it runs as an undo with ``args``."""
    spec = spec_of(op)
    return spec.identify(bind(spec, args, kwargs), identity)


def undo_of(op: Any, result: Any, *args: Any, **kwargs: Any) -> Any:
    spec = spec_of(op)
    return spec.undo_for(result, bind(spec, args, kwargs))


# --- subvolumes: create / snapshot / receive ↔ delete by UUID -----------------------------------------------------


def test_create_undo_carries_the_uuid_read_back(fake_runner: FakeRunner, rec: Any, subvols: dict[str, bool]) -> None:
    data = rec.path("subvolume_show_created") + "/data"
    u = undo_of(ops.create_subvolume, CreatedSubvolume(data, uuid=CREATED_UUID), data)
    assert (u.func, u.args, dict(u.kwargs), u.identity) == (ops.delete_subvolume, (data,), {},
                                                            {"uuid": CREATED_UUID})
    assert undo_of(ops.create_subvolume, CreatedSubvolume(data), data).identity is None  # a dry run: no UUID


def test_delete_undo_acts_on_the_subvolume_it_made(fake_runner: FakeRunner, rec: Any, subvols: dict[str, bool]) -> None:
    data = rec.path("subvolume_show_created") + "/data"
    subvols[data] = True
    replay(fake_runner, rec, "subvolume_show_created")
    assert verdict(ops.delete_subvolume, {"uuid": CREATED_UUID}, data).action == "act"
    fake_runner.expect(["btrfs", "subvolume", "delete", "--", data], stdout=rec.out("subvolume_delete"))
    outcome = perform(ops.delete_subvolume, [data], {}, {"uuid": CREATED_UUID}, fake_runner)
    assert outcome.state == "undone"
    assert ("find", data, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit") not in fake_runner.calls  # no check


def test_delete_undo_of_a_gone_subvolume_is_already_undone(fake_runner: FakeRunner, rec: Any,
                                                           subvols: dict[str, bool]) -> None:
    snap = rec.path("subvolume_show_snapshot-created") + "/snap"
    v = verdict(ops.delete_subvolume, {"uuid": SNAPSHOT_UUID}, snap)
    assert (v.action, v.detail) == ("already", f"subvolume {snap} is already gone")
    assert fake_runner.calls == []


def test_delete_undo_leaves_a_new_subvolume_at_the_same_path_alone(fake_runner: FakeRunner, rec: Any,
                                                                   subvols: dict[str, bool]) -> None:
    """The snapshot was deleted and a new subvolume made under its name (recorded): another UUID, left alone."""
    snap = rec.path("subvolume_show_recreated") + "/snap"
    subvols[snap] = True
    replay(fake_runner, rec, "subvolume_show_recreated")
    v = verdict(ops.delete_subvolume, {"uuid": SNAPSHOT_UUID}, snap)
    assert v.action == "other"
    assert v.detail == (f"{snap} is now subvolume dffa64f2-92bc-dc49-9770-8074c0e1208d, not subvolume "
                        f"{SNAPSHOT_UUID} which the step made")
    outcome = perform(ops.delete_subvolume, [snap], {}, {"uuid": SNAPSHOT_UUID}, fake_runner)
    assert outcome.state == "left-alone"
    assert not any(c[:3] == ("btrfs", "subvolume", "delete") for c in fake_runner.calls)


def test_delete_undo_leaves_a_plain_directory_alone(fake_runner: FakeRunner, subvols: dict[str, bool]) -> None:
    subvols["/srv/pool/snap"] = False
    v = verdict(ops.delete_subvolume, {"uuid": SNAPSHOT_UUID}, "/srv/pool/snap")
    assert v.action == "other" and "ordinary directory" in v.detail and SNAPSHOT_UUID in v.detail
    assert fake_runner.calls == []


def test_snapshot_and_receive_read_back_their_uuid(fake_runner: FakeRunner, rec: Any, subvols: dict[str, bool],
                                                   paths: dict[str, str], tmp_path: Path) -> None:
    mnt, mnt2 = rec.path("subvolume_show_created"), rec.path("subvolume_show_received-full", "$MNT2")
    subvols[f"{mnt}/data"] = True
    paths.update({mnt: "dir", mnt2: "dir", str(tmp_path / "s"): "file"})
    fake_runner.expect(["btrfs", "subvolume", "snapshot", "-r", "--", f"{mnt}/data", f"{mnt}/snap"])
    replay(fake_runner, rec, "subvolume_show_snapshot-created")
    res = ops.snapshot(f"{mnt}/data", f"{mnt}/snap", readonly=True)
    assert res.uuid == SNAPSHOT_UUID
    assert undo_of(ops.snapshot, res, f"{mnt}/data", f"{mnt}/snap").identity == {"uuid": SNAPSHOT_UUID}
    fake_runner.expect(["btrfs", "receive", "-f", str(tmp_path / "s"), "--", mnt2], stderr=b"At subvol ro\n")
    replay(fake_runner, rec, "subvolume_show_received-full")
    got = ops.receive(str(tmp_path / "s"), mnt2)
    assert (got.path, got.uuid) == (f"{mnt2}/ro", "0f8eb4c0-f265-6d43-b9f1-50314766df18")
    assert undo_of(ops.receive, got, str(tmp_path / "s"), mnt2).identity == {"uuid": got.uuid}


# --- delete_subvolume's data check ---------------------------------------------------------------------------------


def test_delete_refuses_a_subvolume_holding_a_file(fake_runner: FakeRunner, rec: Any,
                                                   subvols: dict[str, bool]) -> None:
    data = rec.path("find_subvolume-with-file") + "/data"
    subvols[data] = True
    replay(fake_runner, rec, "find_subvolume-with-file")
    with pytest.raises(DataAtRiskError, match=rf"subvolume {data} is not empty \(it holds {data}/file\).*--force"):
        ops.delete_subvolume(data)
    assert [c[0] for c in fake_runner.calls] == ["find"]


def test_delete_refuses_the_default_subvolume(fake_runner: FakeRunner, rec: Any, subvols: dict[str, bool]) -> None:
    data = rec.path("find_empty-subvolume") + "/data"
    subvols[data] = True
    for case in ("find_empty-subvolume", "subvolume_show_created", "subvolume_get-default_is-subvolume"):
        replay(fake_runner, rec, case)
    with pytest.raises(DataAtRiskError, match=r"\(id 256\) is the default subvolume"):
        ops.delete_subvolume(data)
    assert not any(c[:3] == ("btrfs", "subvolume", "delete") for c in fake_runner.calls)


def test_delete_refuses_a_subvolume_mounted_elsewhere(fake_runner: FakeRunner, rec: Any,
                                                      subvols: dict[str, bool]) -> None:
    """``data`` is also mounted by itself (``subvol=data`` on $BASE/sub, recorded): deleting it is refused."""
    data = rec.path("find_empty-subvolume") + "/data"
    subvols[data] = True
    for case in ("find_empty-subvolume", "subvolume_show_created", "subvolume_get-default_from-subvolume",
                 "findmnt_btrfs_subvolume-mounted"):
        replay(fake_runner, rec, case)
    sub = rec.path("findmnt_btrfs_subvolume-mounted", "$BASE") + "/sub"
    with pytest.raises(DataAtRiskError, match=rf"is mounted on {sub}; deleting it empties that mount"):
        ops.delete_subvolume(data)
    assert not any(c[:3] == ("btrfs", "subvolume", "delete") for c in fake_runner.calls)


def test_delete_of_an_empty_unused_subvolume_and_force(fake_runner: FakeRunner, rec: Any,
                                                       subvols: dict[str, bool]) -> None:
    """Empty, not the default, mounted nowhere by itself (the same filesystem's top level is): deleted. With force
    nothing is checked."""
    data = rec.path("find_empty-subvolume") + "/data"
    subvols[data] = True
    for case in ("find_empty-subvolume", "subvolume_show_created", "subvolume_get-default_from-subvolume",
                 "findmnt_btrfs"):
        replay(fake_runner, rec, case)
    fake_runner.expect(["btrfs", "subvolume", "delete", "--", data], stdout=rec.out("subvolume_delete"))
    ops.delete_subvolume(data)
    assert [c[0] for c in fake_runner.calls] == ["find", "btrfs", "btrfs", "findmnt", "btrfs"]
    fake_runner.calls.clear()
    ops.delete_subvolume(data, force=True)
    assert fake_runner.calls == [("btrfs", "subvolume", "delete", "--", data)]


# --- set_default_subvolume ↔ back, by filesystem UUID --------------------------------------------------------------


def test_set_default_journals_its_undo_ahead_with_the_filesystem_uuid(fake_runner: FakeRunner, rec: Any,
                                                                      paths: dict[str, str]) -> None:
    from pybofh_core.atomic import Atomic
    from pybofh_core.operations import OperationRegistry

    mnt = rec.path("findmnt_target_subvolume")
    paths[mnt] = "dir"
    fake_runner.expect(["btrfs", "subvolume", "get-default", mnt], stdout=rec.out("subvolume_get-default_fs-tree"))
    fake_runner.expect(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", mnt], stdout=rec.out("findmnt_target_subvolume"))
    replay(fake_runner, rec, "filesystem_show_--raw_mnt")
    fake_runner.expect(["btrfs", "subvolume", "set-default", "--", "256", mnt], returncode=1,
                       stderr=b"ERROR: injected\n")
    registry = OperationRegistry()
    registry.add_module("btrfs", ops)
    with pytest.raises(Exception, match="injected"), Atomic(registry=registry) as atomic:
        atomic.btrfs.set_default_subvolume(mnt, 256)
    [step] = atomic.outcomes
    assert step[0].uncertain and step[0].undo.identity == {"fs_uuid": FS_UUID, "default": 256}
    assert step[1].state == "already"  # the command failed: the default is still 5, as the undo would leave it
    assert "is 5 again" in step[1].detail


def test_set_default_identity_verdicts(fake_runner: FakeRunner, rec: Any, paths: dict[str, str]) -> None:
    mnt = rec.path("findmnt_target_subvolume")
    paths[mnt] = "dir"
    ident = {"fs_uuid": FS_UUID, "default": 256}
    fake_runner.expect(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", mnt], stdout=rec.out("findmnt_target_subvolume"))
    replay(fake_runner, rec, "filesystem_show_--raw_mnt")
    fake_runner.expect(["btrfs", "subvolume", "get-default", mnt], stdout=rec.out("subvolume_get-default_subvolume"))
    assert verdict(ops.set_default_subvolume, ident, mnt, 5).action == "act"  # 256, as the step set it
    assert verdict(ops.set_default_subvolume, {**ident, "default": 257}, mnt, 5).action == "other"  # changed since
    fake_runner.expect(["btrfs", "subvolume", "get-default", mnt], stdout=rec.out("subvolume_get-default_fs-tree"))
    assert verdict(ops.set_default_subvolume, ident, mnt, 5).action == "already"  # 5 again


def test_set_default_undo_leaves_another_filesystem_alone(fake_runner: FakeRunner, rec: Any,
                                                          paths: dict[str, str]) -> None:
    """At the mountpoint now: another btrfs (recorded), or no btrfs at all (the parent's ext4, recorded)."""
    mnt2 = rec.path("findmnt_target_other-btrfs", "$MNT2")
    paths[mnt2] = "dir"
    fake_runner.expect(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", mnt2],
                       stdout=rec.out("findmnt_target_other-btrfs"))
    replay(fake_runner, rec, "filesystem_show_--raw_mnt2")
    v = verdict(ops.set_default_subvolume, {"fs_uuid": FS_UUID, "default": 256}, mnt2, 5)
    assert v.action == "other"
    assert v.detail == (f"{mnt2} now holds btrfs 56834ef2-4242-4c46-9062-e860a591c045 (mounted on {mnt2}), not btrfs "
                        f"{FS_UUID} whose default the step changed")
    base = rec.path("findmnt_target_not-btrfs", "$BASE")
    paths[base] = "dir"
    fake_runner.expect(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", base], stdout=rec.out("findmnt_target_not-btrfs"))
    v = verdict(ops.set_default_subvolume, {"fs_uuid": FS_UUID, "default": 256}, base, 5)
    assert v.action == "other" and v.detail.startswith(f"{base} now holds ext4 (mounted on /), not btrfs")
    assert not any(c[:3] == ("btrfs", "subvolume", "set-default") for c in fake_runner.calls)


def test_set_default_undo_of_a_change_that_did_nothing(fake_runner: FakeRunner) -> None:
    assert undo_of(ops.set_default_subvolume, DefaultChange("/mnt", 5, 5), "/mnt", 5) is None


# --- send stream ↔ remove it (device, inode, birth time) -----------------------------------------------------------


def test_remove_stream_verdicts(fake_runner: FakeRunner, rec: Any) -> None:
    stream = rec.path("stat_stream", "$BASE") + "/ro.stream"
    replay(fake_runner, rec, "stat_stream")
    assert verdict(ops.remove_stream, {"file": STREAM}, stream).action == "act"
    replay(fake_runner, rec, "stat_stream-recreated")  # removed, and sent again to the same path: another file
    v = verdict(ops.remove_stream, {"file": STREAM}, stream)
    assert (v.action, v.detail) == ("other", f"{stream} is now file 65024:2171791:1796214281 (device:inode:birth), "
                                             f"not {STREAM} which the step wrote")
    replay(fake_runner, rec, "stat_missing")
    assert verdict(ops.remove_stream, {"file": STREAM}, stream).action == "already"


def test_send_cut_short_removes_only_a_send_stream(fake_runner: FakeRunner, rec: Any) -> None:
    """The undo journalled before ``btrfs send`` ran knows no inode yet: a send stream at the path is the step's
    partial one; another file is left alone."""
    stream = rec.path("stat_stream", "$BASE") + "/ro.stream"
    replay(fake_runner, rec, "stat_stream")
    replay(fake_runner, rec, "head_stream")
    assert verdict(ops.remove_stream, {"kind": "btrfs-stream"}, stream).action == "act"
    other_txt = rec.path("head_not-a-stream", "$BASE") + "/other.txt"
    fake_runner.expect(["stat", "-c", "%d:%i:%W", "--", other_txt], stdout=b"65024:2171791:1796214281\n")
    replay(fake_runner, rec, "head_not-a-stream")
    assert verdict(ops.remove_stream, {"kind": "btrfs-stream"}, other_txt).action == "other"


def test_send_undo_carries_the_file_identity(fake_runner: FakeRunner, rec: Any) -> None:
    stream = rec.path("stat_stream", "$BASE") + "/ro.stream"
    replay(fake_runner, rec, "stat_stream")
    u = undo_of(ops.send, SendStream(stream, "/mnt/ro"), "/mnt/ro", stream)
    assert (u.func, u.args, u.identity) == (ops.remove_stream, (stream,), {"file": STREAM})


def test_remove_stream_refuses_a_file_that_is_not_a_stream(fake_runner: FakeRunner, rec: Any,
                                                           paths: dict[str, str]) -> None:
    other_txt = rec.path("head_not-a-stream", "$BASE") + "/other.txt"
    paths[other_txt] = "file"
    replay(fake_runner, rec, "head_not-a-stream")
    with pytest.raises(DataAtRiskError, match="is not a btrfs send stream"):
        ops.remove_stream(other_txt)
    assert [c[0] for c in fake_runner.calls] == ["head"]
    fake_runner.expect(["rm", "-f", "--", other_txt])
    ops.remove_stream(other_txt, force=True)
    assert fake_runner.calls[-1] == ("rm", "-f", "--", other_txt)


# --- balance / scrub ↔ cancel on the same filesystem -------------------------------------------------------------


def test_balance_undo_cancels_only_on_the_same_filesystem(fake_runner: FakeRunner, rec: Any,
                                                          paths: dict[str, str]) -> None:
    mnt, mnt2 = rec.path("findmnt_target_subvolume"), rec.path("findmnt_target_other-btrfs", "$MNT2")
    paths.update({mnt: "dir", mnt2: "dir"})
    fake_runner.expect(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", mnt], stdout=rec.out("findmnt_target_subvolume"))
    fake_runner.expect(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", mnt2],
                       stdout=rec.out("findmnt_target_other-btrfs"))
    replay(fake_runner, rec, "filesystem_show_--raw_mnt")
    replay(fake_runner, rec, "filesystem_show_--raw_mnt2")
    u = undo_of(ops.start_balance, JobStarted(mnt, "balance"), mnt)
    assert (u.func, u.args, u.identity) == (ops.cancel_balance, (mnt,), {"fs_uuid": FS_UUID})
    assert verdict(ops.cancel_balance, u.identity, mnt).action == "act"
    assert verdict(ops.cancel_scrub, u.identity, mnt2).action == "other"
    assert verdict(ops.cancel_scrub, u.identity, "/gone").action == "already"


def test_every_operation_declares_an_undo_or_why_not() -> None:
    from pybofh_core.operations import OperationRegistry

    registry = OperationRegistry()
    registry.add_module("btrfs", ops)
    for spec in registry.specs("btrfs"):
        kinds = [spec.inverse is not None, spec.irreversible is not None, spec.no_undo is not None, spec.composite]
        assert sum(kinds) == 1, spec.name
    assert spec_of(ops.delete_subvolume).check is not None and spec_of(ops.remove_stream).check is not None
