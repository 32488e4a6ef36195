"""Processes sharing a journal directory or a MountPool never corrupt a journal, share an id, or share a slot."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pybofh_core.journal import Journal

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_plugin"

WORKER = textwrap.dedent(
    """
    import sys
    from pybofh import Atomic
    from pybofh_core.errors import CommandError
    base, who, blocks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(blocks):
        try:
            with Atomic(label=f"{who}-{i}") as atomic:
                atomic.fake.create_marker(f"{base}/{who}-{i}-a")
                atomic.fake.create_marker(f"{base}/{who}-{i}-b")
                if i % 2:
                    atomic.fake.fail()
        except CommandError:
            pass
    """
)


def test_two_processes_share_a_journal_directory(tmp_path: Path) -> None:
    """Concurrent blocks in two processes: every journal parses, has its own id, and tells the right outcome."""
    journal_dir = tmp_path / "journal"
    markers = tmp_path / "markers"
    markers.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")]),
               PYBOFH_EXTRA_PLUGINS="fake=pybofh_fake", PYBOFH_JOURNAL_DIR=str(journal_dir))
    blocks = 40
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(markers), who, str(blocks)], env=env,
                              stderr=subprocess.PIPE) for who in ("p1", "p2")]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()
    states = Journal(journal_dir).list()
    assert len(states) == 2 * blocks and len({s.id for s in states}) == 2 * blocks
    by_label = {s.label: s for s in states}
    for who in ("p1", "p2"):
        for i in range(blocks):
            state = by_label[f"{who}-{i}"]
            assert state.status == ("rolled-back" if i % 2 else "committed")
            assert [s.op for s in state.steps][:2] == ["fake.create_marker", "fake.create_marker"]
    survivors = sorted(p.name for p in markers.iterdir())
    assert survivors == sorted(f"{w}-{i}-{x}" for w in ("p1", "p2") for i in range(0, blocks, 2) for x in "ab")


MOUNT_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pybofh import blockdevice
    from pybofh_blockdev.ops import MountPoolExhaustedError
    slots, device, log, rounds = sys.argv[1].split(","), sys.argv[2], sys.argv[3], int(sys.argv[4])
    pool = blockdevice.MountPool(slots)
    done = 0
    with open(log, "a") as out:
        while done < rounds:
            try:
                with pool.mount(device) as mp:
                    start = time.monotonic()
                    with open(os.path.join(mp, "owner"), "w") as fh:   # the slot really holds our filesystem
                        fh.write(device)
                    time.sleep(0.01)
                    with open(os.path.join(mp, "owner")) as fh:
                        assert fh.read() == device
                    out.write(json.dumps([mp, start, time.monotonic(), os.getpid()]) + "\\n")
                    out.flush()
                done += 1
            except MountPoolExhaustedError:
                time.sleep(0.005)
    """
)


@pytest.mark.loopdev
def test_two_processes_hammer_one_mountpool(tmp_path: Path, loop_factory) -> None:  # type: ignore[no-untyped-def]
    """Two processes mounting through the same 2-slot pool (4 devices wanted at once) never share a slot."""
    devices = [loop_factory(32 * 1024**2) for _ in range(4)]
    for dev in devices:
        subprocess.run(["mkfs.ext4", "-q", dev], check=True)
    slots = [tmp_path / "slot1", tmp_path / "slot2"]
    for s in slots:
        s.mkdir()
    log = tmp_path / "log"
    env = dict(os.environ, PYBOFH_MOUNTPOOL_LOCK_DIR=str(tmp_path / "locks"))
    procs = [subprocess.Popen([sys.executable, "-c", MOUNT_WORKER, ",".join(map(str, slots)), dev, str(log), "15"],
                              env=env, stderr=subprocess.PIPE) for dev in devices]
    try:
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err.decode()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 4 * 15
    for slot in map(str, slots):
        spans = sorted((start, end) for mp, start, end, _ in rows if mp == slot)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans)), slot
    assert subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True).stdout.count(
        str(tmp_path)) == 0
