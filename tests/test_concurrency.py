"""Two processes hammering one journal directory never corrupt a journal or share an id."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

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
