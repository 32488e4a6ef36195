"""A dry run plans a whole btrfs job on its planning model, and the plan is what the real run executes.

The job: a subvolume, a read-only snapshot of it, the snapshot sent and received on a second filesystem, three
rotations of the subvolume's snapshots keeping two, and the snapshot made the default. Without the model a dry run
checked nothing (every check was skipped, so a plan could not be refused where the run would be), planned the
rotation without its deletions (the snapshots it had planned were not there to count) and planned ``set-default``
with a path where the run passes an id. Now each planned step's effect is in the model (``pybofh_btrfs.effects``),
the checks and facts read it, and the ids and UUIDs only the run knows are placeholders (``<id of subvolume P>``).
On loop devices the plan is then run for real inside ``Atomic()`` and rolled back: the commands of the run and of
its rollback are the plan's, argument by argument, and the filesystems are as they were.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pybofh_btrfs import facts, ops
from pybofh_btrfs.errors import SubvolumeNotFoundError
from pybofh_core.atomic import Atomic
from pybofh_core.errors import DataAtRiskError, PybofhError
from pybofh_core.model import Placeholder
from pybofh_core.runner import DryRunRunner, LocalRunner, use_runner
from pybofh_core.testing import planned_undos, same_plan, steps_of, undos_run

pytestmark = [
    pytest.mark.loopdev,
    pytest.mark.skipif(shutil.which("mkfs.btrfs", path="/usr/sbin:/sbin:/usr/bin:/bin") is None,
                       reason="btrfs-progs is not installed (apt-get install btrfs-progs)"),
]

MIB = 1024**2
ROTATIONS = ("2024-01-01T00:00:00", "2024-01-02T00:00:00", "2024-01-03T00:00:00")


class Stop(Exception):
    """Raised at the end of a real run, so its atomic block rolls it back."""


def sh(*argv: str) -> str:
    """Run a set-up or inspection command; return its stdout."""
    return subprocess.run(list(argv), check=True, capture_output=True, text=True,
                          env={"LC_ALL": "C", "PATH": "/usr/sbin:/sbin:/usr/bin:/bin"}).stdout


def real_state(*mounts: str) -> list[tuple[list[str], str]]:
    """Each filesystem's subvolumes (``btrfs subvolume list``) and default (``get-default``), read with the tool."""
    out = []
    for mnt in mounts:
        subs = sorted(line.split(" path ", 1)[1] for line in sh("btrfs", "subvolume", "list", mnt).splitlines())
        out.append((subs, sh("btrfs", "subvolume", "get-default", mnt).strip()))
    return out


def _mounted_btrfs(loop_factory: Callable[..., str], tmp_path: Path, name: str) -> Iterator[str]:
    """A fresh btrfs on a loop device, mounted on ``tmp_path/name``; unmounted at the end whatever happened
    (``loop_factory`` detaches the device)."""
    dev = loop_factory(160 * MIB, name=name)
    sh("mkfs.btrfs", "-q", "-f", dev)
    mnt = tmp_path / name
    mnt.mkdir()
    sh("mount", "-t", "btrfs", dev, str(mnt))
    try:
        yield str(mnt)
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


@pytest.fixture
def fs(loop_factory: Callable[..., str], tmp_path: Path) -> Iterator[str]:
    """The sending btrfs, with an empty ``snaps`` directory for the rotation."""
    for mnt in _mounted_btrfs(loop_factory, tmp_path, "plan-a"):
        Path(mnt, "snaps").mkdir()
        yield mnt


@pytest.fixture
def fs2(loop_factory: Callable[..., str], tmp_path: Path) -> Iterator[str]:
    """The receiving btrfs."""
    yield from _mounted_btrfs(loop_factory, tmp_path, "plan-b")


@pytest.fixture
def streams(tmp_path: Path) -> Path:
    """Where the send stream is written (on neither filesystem)."""
    path = tmp_path / "streams"
    path.mkdir()
    return path


def job(atomic: Atomic, fs: str, fs2: str, streams: Path) -> dict[str, Any]:
    """Subvolume → read-only snapshot → send/receive to ``fs2`` → three rotations keeping two → snapshot as default."""
    data = atomic.btrfs.create_subvolume(f"{fs}/data")
    snap = atomic.btrfs.snapshot(data, f"{fs}/snap", readonly=True)
    received = atomic.btrfs.send_receive(snap, fs2, str(streams / "snap.stream"))
    rotations = [atomic.btrfs.rotate_snapshots(data, f"{fs}/snaps", "data", keep=2, now=t) for t in ROTATIONS]
    default = atomic.btrfs.set_default_subvolume(fs, snap)
    return {"data": data, "snap": snap, "received": received, "rotations": rotations, "default": default}


def expected_plan(fs: str, fs2: str, streams: Path, *, deleted: list[str]) -> list[tuple[str, list[str]]]:
    """The steps and commands of ``job``; ``deleted``: the rotation snapshots each rotation deletes (in order)."""
    stream = f"{streams}/snap.stream"
    steps: list[tuple[str, list[str]]] = [
        ("btrfs.create_subvolume", [f"btrfs subvolume create -- {fs}/data"]),
        ("btrfs.snapshot", [f"btrfs subvolume snapshot -r -- {fs}/data {fs}/snap"]),
        ("btrfs.send", [f"btrfs send -f {stream} -- {fs}/snap"]),
        ("btrfs.receive", [f"btrfs receive -f {stream} -- {fs2}"]),
        ("btrfs.remove_stream", [f"rm -f -- {stream}"]),
        ("btrfs.send_receive", []),  # a composite: its commands are its inner steps'
    ]
    for day, gone in zip(("01", "02", "03"), deleted, strict=True):
        new = f"{fs}/snaps/2024-01-{day}_00-00-00-@data"
        steps.append(("btrfs.snapshot", [f"btrfs subvolume snapshot -r -- {fs}/data {new}"]))
        if gone:
            steps.append(("btrfs.delete_subvolume", [f"btrfs subvolume delete -- {fs}/snaps/{gone}"]))
        steps.append(("btrfs.rotate_snapshots", []))
    steps.append(("btrfs.set_default_subvolume", [f"btrfs subvolume set-default -- <id of subvolume {fs}/snap> {fs}"]))
    return steps


def test_a_dry_run_plans_the_whole_job_on_its_model(fs: str, fs2: str, streams: Path) -> None:
    """The job plans end to end with placeholders; the rotation sees the snapshots planned before it (and deletes a
    real one); inside the plan the facts show the plan's state; nothing changes on disk."""
    sh("btrfs", "subvolume", "create", f"{fs}/snaps/2020-01-01_00-00-00-@data")  # an old rotation snapshot, real
    before = real_state(fs, fs2)
    with Atomic(dry_run=True, allow_irreversible=True) as plan:
        made = job(plan, fs, fs2, streams)
        # the facts, inside the plan: what the planned steps leave
        subs = {s.path: s for s in facts.list_subvolumes(fs)}
        assert sorted(subs) == ["data", "snap", "snaps/2024-01-02_00-00-00-@data", "snaps/2024-01-03_00-00-00-@data"]
        assert subs["snap"].id == f"<id of subvolume {fs}/snap>" and subs["snap"].readonly
        assert [s.path for s in facts.list_subvolumes(fs2)] == ["snap"] and facts.is_readonly(f"{fs2}/snap")
        assert facts.get_default_subvolume(fs).id == f"<id of subvolume {fs}/snap>"
        assert facts.get_subvolume(f"{fs}/snap").uuid == f"<uuid of subvolume {fs}/snap>"
        assert ops.list_rotation_snapshots(f"{fs}/snaps", "data") == ["2024-01-02_00-00-00-@data",
                                                                      "2024-01-03_00-00-00-@data"]
        assert not Path(f"{fs}/data").exists()  # (and really nothing is there)
    assert steps_of(plan) == expected_plan(fs, fs2, streams, deleted=["", "2020-01-01_00-00-00-@data",
                                                                      "2024-01-01_00-00-00-@data"])
    assert isinstance(made["snap"].uuid, Placeholder) and made["snap"].uuid == f"<uuid of subvolume {fs}/snap>"
    assert made["received"].path == f"{fs2}/snap" and made["received"].uuid == f"<uuid of subvolume {fs2}/snap>"
    assert [r.deleted for r in made["rotations"]] == [(), ("2020-01-01_00-00-00-@data",),
                                                      ("2024-01-01_00-00-00-@data",)]
    assert (made["default"].previous_id, made["default"].new_id) == (5, f"<id of subvolume {fs}/snap>")
    # the undos, newest first, on the state the plan leaves: what a rollback would run
    assert planned_undos(plan) == [
        ("btrfs.set_default_subvolume", [f"btrfs subvolume set-default -- 5 {fs}"]),
        ("btrfs.snapshot", [f"btrfs subvolume delete -- {fs}/snaps/2024-01-03_00-00-00-@data"]),
        ("btrfs.snapshot", [f"btrfs subvolume delete -- {fs}/snaps/2024-01-02_00-00-00-@data"]),
        ("btrfs.snapshot", []),  # 2024-01-01: the rotation deleted it (irreversibly): gone, nothing to undo
        ("btrfs.receive", [f"btrfs subvolume delete -- {fs2}/snap"]),
        ("btrfs.send", []),  # the stream: send_receive removed it
        ("btrfs.snapshot", [f"btrfs subvolume delete -- {fs}/snap"]),
        ("btrfs.create_subvolume", [f"btrfs subvolume delete -- {fs}/data"]),
    ]
    assert real_state(fs, fs2) == before and list(streams.iterdir()) == []
    assert real_state(fs)[0][0] == ["snaps/2020-01-01_00-00-00-@data"]


def test_the_plan_is_what_the_run_and_its_rollback_execute(fs: str, fs2: str, streams: Path) -> None:
    """Plan the job, run it for real, roll it back: the commands are the plan's, in order, argument by argument
    (a placeholder standing for the id the run found), and both filesystems are as they were."""
    before = real_state(fs, fs2)
    with Atomic(dry_run=True, allow_irreversible=True) as plan:
        job(plan, fs, fs2, streams)
    planned = steps_of(plan)
    assert planned == expected_plan(fs, fs2, streams, deleted=["", "", "2024-01-01_00-00-00-@data"])
    with pytest.raises(Stop), Atomic(allow_irreversible=True) as real:
        job(real, fs, fs2, streams)
        (subs, default), (subs2, _) = real_state(fs, fs2)
        assert subs == ["data", "snap", "snaps/2024-01-02_00-00-00-@data", "snaps/2024-01-03_00-00-00-@data"]
        assert default.endswith(" path snap") and subs2 == ["snap"]
        ran = steps_of(real)  # (a rollback empties the block's steps)
        raise Stop
    assert same_plan(planned, ran), (planned, ran)
    assert "<id of subvolume" not in ran[-1][1][0] and ran[-1][1][0] != planned[-1][1][0]
    assert same_plan(planned_undos(plan), undos_run(real)), (planned_undos(plan), undos_run(real))
    assert [outcome.state for _, outcome in real.outcomes] == ["undone", "undone", "undone", "already", "undone",
                                                              "already", "undone", "undone"]
    assert real_state(fs, fs2) == before and list(streams.iterdir()) == []


def deleted_then_sent(atomic: Atomic, fs: str, streams: Path) -> None:
    """A snapshot deleted, then sent: the send must fail, planned or run."""
    data = atomic.btrfs.create_subvolume(f"{fs}/data")
    snap = atomic.btrfs.snapshot(data, f"{fs}/snap", readonly=True)
    atomic.btrfs.delete_subvolume(snap)
    atomic.btrfs.send(f"{fs}/snap", str(streams / "gone.stream"))


def test_a_planned_delete_makes_later_steps_fail_as_the_run_does(fs: str, streams: Path) -> None:
    """After a planned delete the subvolume is gone for the plan: a later send of it is refused with the error the
    real run gives (before any command), and a new subvolume may take its path."""
    before = real_state(fs)
    with pytest.raises(PybofhError) as planned_err, Atomic(dry_run=True, allow_irreversible=True) as plan:
        deleted_then_sent(plan, fs, streams)
    with pytest.raises(PybofhError) as real_err, Atomic(allow_irreversible=True) as real:
        deleted_then_sent(real, fs, streams)
    assert isinstance(planned_err.value, SubvolumeNotFoundError) and type(real_err.value) is type(planned_err.value)
    assert str(planned_err.value) == str(real_err.value) == f"snapshot to send: {fs}/snap does not exist"
    assert [outcome.state for _, outcome in real.outcomes] == ["already", "undone"]  # (snap was deleted)
    assert real_state(fs) == before and list(streams.iterdir()) == []
    with Atomic(dry_run=True, allow_irreversible=True) as again:  # the path is free again for the plan
        data = again.btrfs.create_subvolume(f"{fs}/data")
        again.btrfs.delete_subvolume(data)
        again.btrfs.create_subvolume(f"{fs}/data")
        with pytest.raises(SubvolumeNotFoundError, match="does not exist"):
            again.btrfs.delete_subvolume(f"{fs}/data/nested")
    assert [cmds for _, cmds in steps_of(again)] == [[f"btrfs subvolume create -- {fs}/data"],
                                                     [f"btrfs subvolume delete -- {fs}/data"],
                                                     [f"btrfs subvolume create -- {fs}/data"]]


def test_the_data_checks_of_a_delete_see_the_plan(fs: str) -> None:
    """A delete's data checks read the plan as the run reads the disk: a planned snapshot holds its source's files,
    and a planned default is the default; both refused as the real calls are (outside a block, where the checks
    run for what a block made too)."""
    sh("btrfs", "subvolume", "create", f"{fs}/data")
    Path(fs, "data", "precious").write_text("keep me")
    before = real_state(fs)

    def calls() -> None:
        ops.snapshot(f"{fs}/data", f"{fs}/snap", readonly=True)
        with pytest.raises(DataAtRiskError, match=re.escape(f"{fs}/snap is not empty (it holds {fs}/snap/precious)")):
            ops.delete_subvolume(f"{fs}/snap")
        ops.create_subvolume(f"{fs}/empty")
        ops.set_default_subvolume(fs, f"{fs}/empty")
        with pytest.raises(DataAtRiskError, match="is the default subvolume of its filesystem"):
            ops.delete_subvolume(f"{fs}/empty")

    dry = DryRunRunner(LocalRunner())
    with use_runner(dry):
        calls()
    assert [str(c) for c in dry.plan] == [
        f"btrfs subvolume snapshot -r -- {fs}/data {fs}/snap", f"btrfs subvolume create -- {fs}/empty",
        f"btrfs subvolume set-default -- <id of subvolume {fs}/empty> {fs}"]
    assert real_state(fs) == before
    try:
        calls()  # for real: the same refusals
    finally:
        subprocess.run(["btrfs", "subvolume", "set-default", "5", fs], capture_output=True)
        for path in (f"{fs}/snap", f"{fs}/empty"):
            subprocess.run(["btrfs", "subvolume", "delete", path], capture_output=True)
    assert real_state(fs) == before
