"""``bofh run JOB.py``: a job file as one journalled atomic block, its dry-run plan equal to what the run executes.

Real loop devices, a real ext4 and a real mount on the host; the real CLI in a child process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.loopdev

#: the example job of the README: ext4 on DEVICE, mounted on MOUNTPOINT, a file written there; "fail" makes it fail
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "format_and_mount.py"


def bofh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``bofh`` CLI in a child process (this test's journal directory via the environment)."""
    return subprocess.run([sys.executable, "-m", "pybofh_core.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env or dict(os.environ))


def blkid_type(dev: str) -> str:
    """The filesystem type blkid finds on ``dev`` ('' when none)."""
    return subprocess.run(["blkid", "-c", "/dev/null", "-o", "value", "-s", "TYPE", dev], capture_output=True,
                          text=True).stdout.strip()


def mounted_on(target: Path) -> bool:
    """Whether something is mounted on ``target``."""
    return subprocess.run(["findmnt", "-n", str(target)], capture_output=True).returncode == 0


@pytest.fixture
def job_file() -> Path:
    """The README's example job."""
    return EXAMPLE


def test_a_job_plans_then_runs_exactly_its_plan_and_the_journal_says_so(
    loop_factory, job_file: Path, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """--dry-run prints each step's commands and undo and changes nothing; the real run executes the very same
    commands (compared argument by argument through ``journal show --json``), and the journal is committed."""
    dev = loop_factory(64 * 1024**2)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    plan = bofh("--dry-run", "run", str(job_file), dev, str(mnt))
    assert plan.returncode == 0, plan.stderr
    assert "1. blockdev.create_filesystem" in plan.stderr and f"$ mkfs.ext4 -q -- {dev}" in plan.stderr
    assert "2. blockdev.mount" in plan.stderr and "undo: blockdev.unmount" in plan.stderr
    assert blkid_type(dev) == "" and not mounted_on(mnt)
    as_json = json.loads(bofh("--dry-run", "--json", "run", str(job_file), dev, str(mnt)).stdout)
    planned = [(s["op"], s["commands"]) for s in as_json["steps"]]
    assert planned == [("blockdev.create_filesystem", [f"mkfs.ext4 -q -- {dev}"]),
                       ("blockdev.mount", [f"mount -- {dev} {mnt}"])]
    assert blkid_type(dev) == "" and not mounted_on(mnt)

    done = bofh("--json", "run", str(job_file), dev, str(mnt))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"mounted": str(mnt)}
    assert blkid_type(dev) == "ext4" and mounted_on(mnt) and (mnt / "hello").read_text() == "from the job"
    journals = json.loads(bofh("--json", "journal", "list").stdout)
    (journal,) = [j for j in journals if j["status"] != "merged"]  # the job's; its inner block's merged into it
    assert journal["status"] == "committed" and journal["label"].startswith("bofh --json run ")
    shown = json.loads(bofh("--json", "journal", "show", journal["id"]).stdout)
    assert [(s["op"], s["commands"]) for s in shown["steps"]] == planned


def test_a_job_that_fails_after_its_steps_is_undone_and_exits_1(
    loop_factory, job_file: Path, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """The job's own exception after mkfs and mount: the mount is undone, one line says so, exit 1; the journal
    lists the undo's real command (umount)."""
    dev = loop_factory(64 * 1024**2)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    failed = bofh("run", str(job_file), dev, str(mnt), "fail")
    assert failed.returncode == 1, failed.stderr
    assert failed.stderr.splitlines()[0] == (
        f"bofh: error: job {job_file} failed: RuntimeError: the job's own check failed; every step it finished was "
        "undone"
    )
    assert "Traceback" not in failed.stderr and not mounted_on(mnt)
    journals = json.loads(bofh("--json", "journal", "list").stdout)
    (journal,) = [j for j in journals if j["status"] != "merged"]
    assert journal["status"] == "rolled-back"
    shown = json.loads(bofh("--json", "journal", "show", journal["id"]).stdout)
    mount_step = shown["steps"][1]
    assert mount_step["state"] == "undone" and mount_step["undo_commands"] == [f"umount -- {mnt}"]


def test_a_job_that_cannot_start_is_one_line_and_exit_2_with_nothing_run(
    loop_factory, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """A missing file, a file that does not compile, a job failing before its first step: exit 2, one line, no
    journal; a job that would mkfs over a filesystem it did not make is refused (irreversible), even with force."""
    missing = bofh("run", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and missing.stderr.startswith("bofh: error: job file") and "No such file" in \
        missing.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("def job(:\n    pass\n")
    res = bofh("run", str(broken))
    assert res.returncode == 2 and res.stderr == f"bofh: error: job file {broken} does not compile: line 1: " \
        "invalid syntax\n"
    early = tmp_path / "early.py"
    early.write_text("def job():\n    return undefined_name\n")
    res = bofh("run", str(early))
    assert res.returncode == 2 and "failed before its first step (nothing ran): NameError" in res.stderr
    assert json.loads(bofh("--json", "journal", "list").stdout) == []

    dev = loop_factory(64 * 1024**2)
    subprocess.run(["mkfs.ext4", "-q", dev], check=True)
    uuid = subprocess.run(["blkid", "-c", "/dev/null", "-o", "value", "-s", "UUID", dev], capture_output=True,
                          text=True).stdout.strip()
    over = tmp_path / "over.py"
    over.write_text(f"def job(atomic):\n    atomic.blockdev.create_filesystem({dev!r}, 'xfs', force=True)\n")
    res = bofh("run", str(over))
    assert res.returncode == 2, res.stderr
    assert "irreversible" in res.stderr and "Traceback" not in res.stderr
    assert subprocess.run(["blkid", "-c", "/dev/null", "-o", "value", "-s", "UUID", dev], capture_output=True,
                          text=True).stdout.strip() == uuid


def test_kill_9_after_an_inner_block_committed_the_jobs_journal_still_undoes_it(
    loop_factory, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    """A job's inner ``Atomic()`` commits (mkfs, mount), then the job is killed: the inner journal says "merged"
    (its steps were journalled in the job's before it committed) and ``journal rollback`` of the job's journal
    unmounts; rolling back the merged one is refused, naming the job's."""
    dev = loop_factory(64 * 1024**2)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    ready = tmp_path / "ready"
    job = tmp_path / "slow.py"
    job.write_text(textwrap.dedent(f"""
        import time
        from pathlib import Path
        from pybofh import Atomic

        def job():
            with Atomic(allow_irreversible=True) as atomic:
                atomic.blockdev.create_filesystem({dev!r}, "ext4")
                atomic.blockdev.mount({dev!r}, {str(mnt)!r})
            Path({str(ready)!r}).write_text("mounted")
            time.sleep(120)
    """))
    child = subprocess.Popen([sys.executable, "-m", "pybofh_core.cli", "run", str(job)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the job never got there"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert mounted_on(mnt)
    journals = {j["status"]: j["id"] for j in json.loads(bofh("--json", "journal", "list").stdout)}
    assert set(journals) == {"merged", "interrupted"}, journals
    refused = bofh("journal", "rollback", journals["merged"])
    assert refused.returncode != 0 and f"merged into journal {journals['interrupted']}" in refused.stderr
    done = bofh("journal", "rollback", journals["interrupted"])
    assert done.returncode == 0, done.stderr
    assert not mounted_on(mnt) and blkid_type(dev) == "ext4"  # mkfs cannot be undone: said so, not hidden
