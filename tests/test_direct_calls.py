"""An operation called directly inside ``with Atomic():`` is a step of the block, as ``atomic.<domain>.<op>()`` is:
journalled, and undone when the block fails (it used to run unrecorded, so a failure left it behind). The
recording context never leaks out of a block or a ``bofh`` command."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pybofh_core import recording
from pybofh_core.atomic import Atomic
from pybofh_core.session import journal as session_journal


def _loops_of(path: Path) -> list[str]:
    listed = subprocess.run(["losetup", "--list", "--noheadings", "-O", "NAME,BACK-FILE"], capture_output=True,
                            text=True, check=True).stdout
    return [line.split()[0] for line in listed.splitlines() if str(path) in line]


@pytest.mark.loopdev
def test_a_direct_call_in_a_block_is_undone_when_the_block_fails(tmp_path: Path) -> None:
    from pybofh import blockdev

    image = tmp_path / "disk.img"
    with image.open("wb") as fh:
        fh.truncate(8 * 1024**2)
    try:
        with pytest.raises(RuntimeError, match="the job's own check"):
            with Atomic(label="direct"):
                loop = blockdev.attach_loop(str(image))  # a plain call, not through the block
                assert _loops_of(image) == [loop.path]
                raise RuntimeError("the job's own check failed")
        assert _loops_of(image) == []
        (record,) = [j for j in session_journal().list() if j.label == "direct"]
        assert [(s.op, s.state) for s in record.steps] == [("blockdev.attach_loop", "undone")]
    finally:
        for dev in _loops_of(image):
            subprocess.run(["losetup", "-d", dev], capture_output=True)
    assert recording.recorder() is None


@pytest.mark.loopdev
def test_no_recording_context_leaks_out_of_a_bofh_command(tmp_path: Path, bofh: Any) -> None:
    """``bofh blockdev loop attach`` in this process: the command's block opens lazily inside the CLI's own
    recorder and ends with the command; nothing is left recording (the caller's next operation is a plain call)."""
    image = tmp_path / "cli.img"
    with image.open("wb") as fh:
        fh.truncate(8 * 1024**2)
    try:
        done = bofh("--json", "blockdev", "loop", "attach", str(image))
        assert done.code == 0, done.err
        assert len(_loops_of(image)) == 1
        assert recording.recorder() is None
    finally:
        for dev in _loops_of(image):
            subprocess.run(["losetup", "-d", dev], capture_output=True)


DOMAIN_OF_A_DIRECT_CALL = '''
import json
from pybofh_core.atomic import Atomic
from pybofh_core.runner import FakeRunner, use_runner
from pybofh_core.session import journal as session_journal
runner = FakeRunner()
runner.paths = {}
try:
    with use_runner(runner), Atomic(label="direct-domain") as block:
        block.registry.get("blockdev.attach_loop")  # as atomic.blockdev does: the block's registry is set
        import pybofh_lvm.ops as ops  # imported directly, as a layer's resize imports resize_lv
        ops.create_lv("vg0", "data", "1G")  # the fake runner has no vgs reply: the step fails
except Exception:
    pass
(state,) = [j for j in session_journal().list() if j.label == "direct-domain"]
print(json.dumps([s.op for s in state.steps]))
'''


def test_a_step_of_a_directly_imported_operation_is_journalled_by_its_domain() -> None:
    """A fresh process whose block already holds the registry: an operation of a domain not loaded yet is
    journalled as ``lvm.create_lv`` (replayable by name), not by its module path (the stack resize killed after
    lvresize could not be rolled back by ``bofh journal rollback`` otherwise)."""
    import json
    import sys

    done = subprocess.run([sys.executable, "-c", DOMAIN_OF_A_DIRECT_CALL], capture_output=True, text=True,
                          timeout=120, check=True)
    assert json.loads(done.stdout) == ["lvm.create_lv"]
