"""Operations with a fake runner replaying btrfs-progs 6.2 recordings: argv of each operation AND of its inverse,
typed errors before any command on bad input, rollback order inside ``Atomic()``, and the dry-run plan.

Operations read back identities (``btrfs subvolume show``, ``findmnt``, ``btrfs filesystem show``, ``stat``) and
data checks read what a target holds; those read-only probes are answered with ``record_checks.py``'s recordings
and left out of the argv comparisons (:func:`mutating`), which are the ones these tests always pinned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_btrfs import facts, ops
from pybofh_btrfs.errors import NotASubvolumeError, SubvolumeNotFoundError
from pybofh_core.atomic import Atomic
from pybofh_core.errors import CommandError, IrreversibleOperationError, NotFoundError, ValidationError
from pybofh_core.operations import OperationRegistry, spec_of
from pybofh_core.rollback import perform
from pybofh_core.runner import FakeRunner


@pytest.fixture
def mnt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A directory standing for a btrfs mount; paths added to ``subvols`` count as subvolume roots."""
    root = tmp_path / "mnt"
    root.mkdir()
    subvols: set[str] = {str(root)}

    def is_root(path: str, what: str = "") -> bool:
        if path not in subvols and not Path(path).exists():
            raise SubvolumeNotFoundError(f"{what}: {path} does not exist")
        return path in subvols

    monkeypatch.setattr("pybofh_btrfs.checks.is_subvolume_root", is_root)
    return {"root": str(root), "subvols": subvols}


@pytest.fixture
def registry() -> OperationRegistry:
    """A registry holding only this plugin's operations (no discovery)."""
    reg = OperationRegistry()
    reg.add_module("btrfs", ops)
    return reg


READ_ONLY = {("btrfs", "subvolume", "show"), ("btrfs", "subvolume", "get-default"), ("btrfs", "filesystem", "show"),
             ("btrfs", "inspect-internal", "rootid")}


def mutating(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The calls that change something: read-only probes (identities, data checks, old values) left out."""
    return [c for c in calls if c[:3] not in READ_ONLY and c[0] not in ("findmnt", "find", "stat", "head")]


def show_of(fake_runner: FakeRunner, path: str, out: bytes) -> None:
    """Answer ``btrfs subvolume show PATH`` (what an operation reads back, or an identity check reads)."""
    fake_runner.expect(["btrfs", "subvolume", "show", "--", path], stdout=out)


def fs_of(fake_runner: FakeRunner, rec: Any, path: str, case: str = "subvolume", fs: str = "mnt") -> None:
    """Answer the two reads of a filesystem's identity: ``findmnt -T PATH`` and ``btrfs filesystem show``."""
    found = rec.out(f"findmnt_target_{case}")
    fake_runner.expect(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", path], stdout=found)
    target = rec.path(f"filesystem_show_--raw_{fs}", "$MNT2" if fs == "mnt2" else "$MNT")
    fake_runner.expect(["btrfs", "filesystem", "show", "--raw", "--", target],
                       stdout=rec.out(f"filesystem_show_--raw_{fs}"))


def _undo(op: Any, result: Any, *args: Any, **kwargs: Any) -> Any:
    """The Undo the operation declares for this call and result."""
    from pybofh_core.operations import bind

    spec = spec_of(op)
    return spec.undo_for(result, bind(spec, args, kwargs))


def test_create_subvolume_and_its_inverse(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any) -> None:
    path = f"{mnt['root']}/data"
    fake_runner.expect(["btrfs", "subvolume", "create", "--", path], stdout=rec.out("subvolume_create"))
    show_of(fake_runner, path, rec.out("subvolume_show_created"))
    res = ops.create_subvolume(path)
    assert res.path == path
    assert res.uuid == "e76524d8-c27f-1b47-b637-609dd24ed138"  # read back after the create
    assert mutating(fake_runner.calls) == [("btrfs", "subvolume", "create", "--", path)]
    mnt["subvols"].add(path)
    fake_runner.expect(["btrfs", "subvolume", "delete", "--", path], stdout=rec.out("subvolume_delete"))
    u = _undo(ops.create_subvolume, res, path)
    assert perform(u.func, u.args, u.kwargs, None, fake_runner).state == "undone"  # as a rollback runs it
    assert fake_runner.calls[-1] == ("btrfs", "subvolume", "delete", "--", path)


def test_snapshot_readonly_and_its_inverse(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any) -> None:
    src, dst = f"{mnt['root']}/data", f"{mnt['root']}/snap1"
    mnt["subvols"].add(src)
    fake_runner.expect(["btrfs", "subvolume", "snapshot", "-r", "--", src, dst],
                       stdout=rec.out("subvolume_snapshot_readonly"))
    show_of(fake_runner, dst, rec.out("subvolume_show_snapshot-created"))
    res = ops.snapshot(src, dst, readonly=True)
    assert (res.path, res.source, res.readonly) == (dst, src, True)
    mnt["subvols"].add(dst)
    fake_runner.expect(["btrfs", "subvolume", "delete", "--", dst], stdout=rec.out("subvolume_delete"))
    u = _undo(ops.snapshot, res, src, dst, readonly=True)
    assert perform(u.func, u.args, u.kwargs, None, fake_runner).state == "undone"  # as a rollback runs it
    assert mutating(fake_runner.calls) == [("btrfs", "subvolume", "snapshot", "-r", "--", src, dst),
                                           ("btrfs", "subvolume", "delete", "--", dst)]


def test_set_default_reads_the_old_default_and_sets_it_back(fake_runner: FakeRunner, mnt: dict[str, Any],
                                                             rec: Any) -> None:
    root, sub = mnt["root"], f"{mnt['root']}/data"
    mnt["subvols"].add(sub)
    Path(sub).mkdir()
    fake_runner.expect(["btrfs", "inspect-internal", "rootid", "--", sub], stdout=rec.out("inspect-internal_rootid"))
    fake_runner.expect(["btrfs", "subvolume", "get-default", root], stdout=rec.out("subvolume_get-default_fs-tree"))
    fake_runner.expect(["btrfs", "subvolume", "set-default", "--", ...], stdout=rec.out("subvolume_set-default"))
    res = ops.set_default_subvolume(root, sub)
    assert (res.previous_id, res.new_id) == (5, 256)
    assert fake_runner.calls[-1] == ("btrfs", "subvolume", "set-default", "--", "256", root)
    fake_runner.expect(["btrfs", "subvolume", "get-default", root], stdout=rec.out("subvolume_get-default_subvolume"))
    fs_of(fake_runner, rec, root)  # the undo's identity: the filesystem's UUID
    _undo(ops.set_default_subvolume, res, root, sub)()
    assert fake_runner.calls[-2:] == [("btrfs", "subvolume", "get-default", root),
                                      ("btrfs", "subvolume", "set-default", "--", "5", root)]


def test_send_receive_full_and_incremental(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any,
                                           tmp_path: Path) -> None:
    root = mnt["root"]
    dest = tmp_path / "dest"
    dest.mkdir()
    snap1, snap2 = f"{root}/snap1", f"{root}/snap2"
    mnt["subvols"].update({snap1, snap2})
    s1, s2 = str(tmp_path / "full.stream"), str(tmp_path / "inc.stream")

    def touch(argv: tuple[str, ...], _data: bytes | None) -> None:
        Path(argv[3]).write_bytes(b"stream")

    fake_runner.expect(["btrfs", "send", "-f", s1, "--", snap1], stderr=rec.err("send_full"), effect=touch)
    fake_runner.expect(["btrfs", "receive", "-f", s1, "--", str(dest)], stdout=rec.out("receive_full"),
                       stderr=rec.err("receive_full"))
    show_of(fake_runner, f"{dest}/snap1", rec.out("subvolume_show_received-full"))
    show_of(fake_runner, f"{dest}/snap2", rec.out("subvolume_show_received"))
    fake_runner.expect(["head", "-c", "13", "--", ...], stdout=rec.out("head_stream"))  # remove_stream's check
    fake_runner.expect(["rm", "-f", "--", s1])
    got = ops.send_receive(snap1, str(dest), s1)
    assert got.path == f"{dest}/snap1" and got.readonly
    fake_runner.expect(["btrfs", "send", "-f", s2, "-p", snap1, "--", snap2], stderr=rec.err("send_incremental"),
                       effect=touch)
    fake_runner.expect(["btrfs", "receive", "-f", s2, "--", str(dest)], stdout=rec.out("receive_incremental"),
                       stderr=rec.err("receive_incremental"))
    fake_runner.expect(["rm", "-f", "--", s2])
    got = ops.send_receive(snap2, str(dest), s2, parent=snap1)
    assert got.path == f"{dest}/snap2"
    assert [c[:2] for c in mutating(fake_runner.calls)] == [("btrfs", "send"), ("btrfs", "receive"),
                                                            ("rm", "-f")] * 2
    # the inverses: a send removes its stream, a receive deletes what it received
    fake_runner.expect(["stat", "-c", "%d:%i:%W", "--", s1], stdout=rec.out("stat_stream"))
    undo_send = _undo(ops.send, ops.SendStream(s1, snap1), snap1, s1)
    assert (undo_send.func, undo_send.args) == (ops.remove_stream, (s1,))
    assert undo_send.identity == {"file": "65024:2171790:1796214281"}
    undo_receive = _undo(ops.receive, got, s2, str(dest))
    assert (undo_receive.func, undo_receive.args) == (ops.delete_subvolume, (f"{dest}/snap2",))
    assert undo_receive.identity == {"uuid": "79d41c71-b1b4-ff49-99a9-05a7d2ce8098"}


def test_receive_refuses_a_name_btrfs_did_not_make(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any,
                                                   tmp_path: Path) -> None:
    stream = tmp_path / "s"
    stream.write_bytes(b"x")
    fake_runner.expect(["btrfs", "receive", ...], stdout=rec.out("receive_full"), stderr=rec.err("receive_full"))
    with pytest.raises(ValidationError, match="expected 'other'"):
        ops.receive(str(stream), mnt["root"], expect_name="other")


def test_rotate_keeps_the_newest_and_ignores_other_names(fake_runner: FakeRunner, mnt: dict[str, Any],
                                                         rec: Any) -> None:
    root = mnt["root"]
    snaps = f"{root}/snaps"
    Path(snaps).mkdir()
    src = f"{root}/data"
    mnt["subvols"].add(src)
    new = f"{snaps}/2024-01-05_00-00-00-@data"
    fake_runner.expect(["btrfs", "subvolume", "snapshot", "-r", "--", src, new],
                       stdout=rec.out("subvolume_snapshot_readonly"))
    show_of(fake_runner, new, rec.out("subvolume_show_snapshot-created"))
    # the recorded listing (3 rotation snapshots, one of another name, one manual) plus the one just made
    listing = rec.out("find_rotation-dir") + b"2024-01-05_00-00-00-@data\0"
    fake_runner.expect(["find", snaps, "-mindepth", "1", "-maxdepth", "1", "-inum", "256", "-printf", "%f\\0"],
                       stdout=listing)
    for old in ("2024-01-01_00-00-00-@data", "2024-01-02_00-00-00-@data"):
        mnt["subvols"].add(f"{snaps}/{old}")
    fake_runner.expect(["btrfs", "subvolume", "delete", "--", ...], stdout=rec.out("subvolume_delete"))
    res = ops.rotate_snapshots(src, snaps, "data", keep=2, now="2024-01-05T00:00:00")
    assert res.created == new
    assert res.deleted == ("2024-01-01_00-00-00-@data", "2024-01-02_00-00-00-@data")
    assert res.kept == ("2024-01-03_00-00-00-@data", "2024-01-05_00-00-00-@data")
    deletes = [c[-1] for c in fake_runner.calls if c[:3] == ("btrfs", "subvolume", "delete")]
    assert deletes == [f"{snaps}/2024-01-01_00-00-00-@data", f"{snaps}/2024-01-02_00-00-00-@data"]
    assert not any(c[0] == "find" and c[1] != snaps for c in fake_runner.calls)  # rotated away with force: no check


def test_balance_and_scrub_start_cancel(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any) -> None:
    root = mnt["root"]
    fake_runner.expect(["btrfs", "balance", "start", "--bg", "-dusage=50", "--", root],
                       stdout=rec.out("balance_start_--bg_--full-balance"))
    started = ops.start_balance(root, data_usage=50)
    fs_of(fake_runner, rec, root)  # the undo's identity: the filesystem's UUID
    fake_runner.expect(["btrfs", "balance", "cancel", "--", root], stdout=rec.out("balance_cancel_not-running"),
                       stderr=rec.err("balance_cancel_not-running"), returncode=rec.rc("balance_cancel_not-running"))
    assert _undo(ops.start_balance, started, root, data_usage=50)() is False  # finished already: nothing to cancel
    fake_runner.expect(["btrfs", "scrub", "start", "-r", "--", root], stdout=b"")
    started = ops.start_scrub(root, readonly=True)
    fake_runner.expect(["btrfs", "scrub", "cancel", "--", root], stderr=rec.err("scrub_cancel_not-running"),
                       returncode=rec.rc("scrub_cancel_not-running"))
    assert _undo(ops.start_scrub, started, root, readonly=True)() is False
    fake_runner.expect(["btrfs", "scrub", "cancel", "--", root], stderr=rec.err("subvolume_delete_not-empty"),
                       returncode=2)
    with pytest.raises(CommandError):  # any other failure is reported
        ops.cancel_scrub(root)


def test_delete_failure_is_a_command_error(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any) -> None:
    path = f"{mnt['root']}/data"
    mnt["subvols"].add(path)
    fake_runner.expect(["btrfs", "subvolume", "delete", "--", path], stdout=rec.out("subvolume_delete_not-empty"),
                       stderr=rec.err("subvolume_delete_not-empty"), returncode=rec.rc("subvolume_delete_not-empty"))
    with pytest.raises(CommandError, match="Directory not empty"):
        ops.delete_subvolume(path, force=True)  # it holds files: without force the data check refuses first


BAD_CALLS = [
    ("create with '/' in the name", lambda m: ops.create_subvolume(f"{m}/a/../b"), ValidationError),
    ("create with a leading '-'", lambda m: ops.create_subvolume(f"{m}/-rf"), ValidationError),
    ("create with whitespace", lambda m: ops.create_subvolume(f"{m}/a b"), ValidationError),
    ("create with a relative path", lambda m: ops.create_subvolume("data"), ValidationError),
    ("create in a missing directory", lambda m: ops.create_subvolume(f"{m}/nope/x"), NotFoundError),
    ("create over an existing path", lambda m: ops.create_subvolume(m), ValidationError),
    ("snapshot of a plain directory", lambda m: ops.snapshot(f"{m}/plain", f"{m}/s"), NotASubvolumeError),
    ("snapshot of a missing source", lambda m: ops.snapshot(f"{m}/missing", f"{m}/s"), NotFoundError),
    ("snapshot with readonly='yes'", lambda m: ops.snapshot(m, f"{m}/s", readonly="yes"), ValidationError),
    ("delete a plain directory", lambda m: ops.delete_subvolume(f"{m}/plain"), NotASubvolumeError),
    ("delete '..' path", lambda m: ops.delete_subvolume(f"{m}/../x"), ValidationError),
    ("set-default to id 7", lambda m: ops.set_default_subvolume(m, 7), ValidationError),
    ("set-default to id True", lambda m: ops.set_default_subvolume(m, True), ValidationError),
    ("rotate keep=0", lambda m: ops.rotate_snapshots(m, m, "data", 0), ValidationError),
    ("rotate name with '/'", lambda m: ops.rotate_snapshots(m, m, "a/b", 2), ValidationError),
    ("rotate name '-x'", lambda m: ops.rotate_snapshots(m, m, "-x", 2), ValidationError),
    ("rotate name '..'", lambda m: ops.rotate_snapshots(m, m, "..", 2), ValidationError),
    ("rotate bad now", lambda m: ops.rotate_snapshots(m, m, "data", 2, now="yesterday"), ValidationError),
    ("send to an existing file", lambda m: ops.send(m, f"{m}/plain"), ValidationError),
    ("receive a missing stream", lambda m: ops.receive(f"{m}/nope.stream", m), NotFoundError),
    ("balance usage 120%", lambda m: ops.start_balance(m, data_usage=120), ValidationError),
    ("balance on a missing path", lambda m: ops.start_balance(f"{m}/nope"), NotFoundError),
    ("list on a missing path", lambda m: facts.list_subvolumes(f"{m}/nope"), NotFoundError),
]


@pytest.mark.parametrize(("why", "call", "error"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_input_raises_before_any_command(fake_runner: FakeRunner, mnt: dict[str, Any], why: str, call: Any,
                                             error: type[Exception]) -> None:
    Path(mnt["root"], "plain").mkdir()
    with pytest.raises(error):
        call(mnt["root"])
    assert fake_runner.calls == []


def test_list_subvolumes_uses_two_commands_and_merges_readonly(fake_runner: FakeRunner, mnt: dict[str, Any],
                                                               rec: Any) -> None:
    root = mnt["root"]
    fake_runner.expect(["btrfs", "subvolume", "list", "-puqR", "--", root], stdout=rec.out("subvolume_list_-puqR"))
    fake_runner.expect(["btrfs", "subvolume", "list", "-r", "--", root], stdout=rec.out("subvolume_list_-r"))
    subs = facts.list_subvolumes(root)
    assert [(s.path, s.readonly) for s in subs] == [("data", False), ("data/nested", False), ("snap1", True),
                                                    ("clone", False)]
    assert len(fake_runner.calls) == 2


def test_filesystem_df_falls_back_to_text_when_json_is_unsupported(fake_runner: FakeRunner, mnt: dict[str, Any],
                                                                    rec: Any) -> None:
    root = mnt["root"]
    fake_runner.expect(["btrfs", "--format", "json", "filesystem", "df", "--", root],
                       stderr=rec.err("filesystem_usage_format-json_unsupported"), returncode=1)
    fake_runner.expect(["btrfs", "filesystem", "df", "-b", "--", root], stdout=rec.out("filesystem_df_-b"))
    assert facts.filesystem_df(root).exact
    assert fake_runner.calls[-1][:4] == ("btrfs", "filesystem", "df", "-b")


def test_is_readonly_reads_the_property(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any) -> None:
    root = mnt["root"]
    fake_runner.expect(["btrfs", "property", "get", "-ts", "--", root, "ro"], stdout=rec.out("property_get_ro_true"))
    assert facts.is_readonly(root) is True
    fake_runner.expect(["btrfs", "property", "get", "-ts", "--", root, "ro"], stdout=rec.out("property_get_ro_false"))
    assert facts.is_readonly(root) is False


def _atomic_job_replies(fake_runner: FakeRunner, rec: Any, root: str) -> None:
    fake_runner.expect(["btrfs", "subvolume", "create", ...], stdout=rec.out("subvolume_create"))
    fake_runner.expect(["btrfs", "subvolume", "snapshot", ...], stdout=rec.out("subvolume_snapshot_readonly"))
    show_of(fake_runner, f"{root}/a", rec.out("subvolume_show_created"))
    show_of(fake_runner, f"{root}/b", rec.out("subvolume_show_snapshot-created"))
    fs_of(fake_runner, rec, root)
    # the default before the step, then the one it set (what the rollback's identity check finds)
    fake_runner.expect(["btrfs", "subvolume", "get-default", root], stdout=rec.out("subvolume_get-default_subvolume"))
    fake_runner.expect(["btrfs", "subvolume", "get-default", root], stdout=rec.out("subvolume_get-default_fs-tree"),
                       times=1)
    fake_runner.expect(["btrfs", "subvolume", "set-default", ...], stdout=rec.out("subvolume_set-default"))
    fake_runner.expect(["btrfs", "subvolume", "delete", ...], stdout=rec.out("subvolume_delete"))


def test_atomic_block_undoes_in_reverse_order(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any,
                                              registry: OperationRegistry) -> None:
    root = mnt["root"]
    a, b = f"{root}/a", f"{root}/b"
    _atomic_job_replies(fake_runner, rec, root)
    with pytest.raises(RuntimeError, match="boom"), Atomic(registry=registry) as atomic:
        atomic.btrfs.create_subvolume(a)
        mnt["subvols"].add(a)
        atomic.btrfs.snapshot(a, b, readonly=True)
        mnt["subvols"].add(b)
        atomic.btrfs.set_default_subvolume(root, 256)
        raise RuntimeError("boom")
    assert mutating(fake_runner.calls) == [
        ("btrfs", "subvolume", "create", "--", a),
        ("btrfs", "subvolume", "snapshot", "-r", "--", a, b),
        ("btrfs", "subvolume", "set-default", "--", "256", root),
        ("btrfs", "subvolume", "set-default", "--", "5", root),  # undo, newest first
        ("btrfs", "subvolume", "delete", "--", b),
        ("btrfs", "subvolume", "delete", "--", a),
    ]


def test_dry_run_plans_commands_and_undos(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any,
                                          registry: OperationRegistry) -> None:
    """In a dry run nothing exists yet: later steps plan on what earlier ones made (the planning model), and the id
    of a subvolume only planned is a placeholder, in the same command the run will execute."""
    root = mnt["root"]
    a, b = f"{root}/a", f"{root}/b"
    fake_runner.expect(["btrfs", "subvolume", "get-default", root], stdout=rec.out("subvolume_get-default_fs-tree"))
    fake_runner.expect(["findmnt", "-J", "-t", "btrfs", "-o", "TARGET,SOURCE,FSROOT,MAJ:MIN"],
                       stdout=rec.out("findmnt_btrfs"))  # (the filesystem whose default a planned step sets)
    with Atomic(registry=registry, dry_run=True) as atomic:
        atomic.btrfs.create_subvolume(a)
        atomic.btrfs.snapshot(a, b, readonly=True)
        atomic.btrfs.set_default_subvolume(root, b)
    plan = atomic.plan
    assert [p["commands"] for p in plan] == [
        [f"btrfs subvolume create -- {a}"], [f"btrfs subvolume snapshot -r -- {a} {b}"],
        [f"btrfs subvolume set-default -- <id of subvolume {b}> {root}"]]
    assert plan[0]["undo_commands"] == [f"btrfs subvolume delete -- {a}"]
    assert plan[2]["undo_commands"] == [f"btrfs subvolume set-default -- 5 {root}"]
    assert all(c[2] in ("get-default", "-t") for c in fake_runner.calls)  # only reads ran


def test_rotation_deletions_need_permission_inside_atomic(fake_runner: FakeRunner, mnt: dict[str, Any], rec: Any,
                                                          registry: OperationRegistry) -> None:
    """Deleting old snapshots is irreversible: refused in Atomic() by default, and the new snapshot is undone."""
    root = mnt["root"]
    snaps = f"{root}/snaps"
    Path(snaps).mkdir()
    mnt["subvols"].add(f"{snaps}/2024-01-01_00-00-00-@data")
    fake_runner.expect(["btrfs", "subvolume", "snapshot", ...], stdout=rec.out("subvolume_snapshot_readonly"),
                       effect=lambda argv, _d: mnt["subvols"].add(argv[-1]))
    fake_runner.expect(["find", ...], stdout=rec.out("find_rotation-dir"))
    fake_runner.expect(["btrfs", "subvolume", "delete", ...], stdout=rec.out("subvolume_delete"))
    new = f"{snaps}/2024-01-05_00-00-00-@data"
    show_of(fake_runner, new, rec.out("subvolume_show_snapshot-created"))  # read back, and checked by the undo
    with pytest.raises(IrreversibleOperationError), Atomic(registry=registry) as atomic:
        atomic.btrfs.rotate_snapshots(root, snaps, "data", 1, now="2024-01-05T00:00:00")
    assert fake_runner.calls[-1] == ("btrfs", "subvolume", "delete", "--", new)


def test_subvolume_check_over_a_remote_runner_asks_there() -> None:
    """Under a remote transport the subvolume check is one read-only ``stat`` where the commands run."""
    from pybofh_btrfs.checks import is_subvolume_root
    from pybofh_core.runner import FakeRunner, use_runner

    class Remote(FakeRunner):
        name = "remote-test"

    remote = Remote().expect(["stat", "-L", "-c", "%i %F", "--", "/mnt/@home"], "256 directory\n")
    remote.expect(["stat", "-L", "-c", "%i %F", "--", "/mnt/dir"], "1234 directory\n")
    with use_runner(remote):
        assert is_subvolume_root("/mnt/@home") is True
        assert is_subvolume_root("/mnt/dir") is False
    assert len(remote.calls) == 2
