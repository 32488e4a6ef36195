"""``bofh btrfs …`` through the real root command, with a fake runner replaying the 6.2 recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pybofh_core import cli
from pybofh_core.runner import FakeRunner


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_subvolume_list_table_and_json(fake_runner: FakeRunner, rec: Any, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path)
    fake_runner.expect(["btrfs", "subvolume", "list", "-puqR", "--", root], stdout=rec.out("subvolume_list_-puqR"))
    fake_runner.expect(["btrfs", "subvolume", "list", "-r", "--", root], stdout=rec.out("subvolume_list_-r"))
    code, out, _ = _run(["btrfs", "subvolume", "list", root], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["ID", "PATH", "PARENT_ID", "TOP_LEVEL", "READONLY"]
    assert lines[3].split()[:5] == ["258", "snap1", "5", "5", "yes"]
    code, out, _ = _run(["--json", "btrfs", "subvolume", "list", root], capsys)
    assert code == 0 and [(s["path"], s["readonly"]) for s in json.loads(out)][2] == ("snap1", True)


@pytest.mark.parametrize("argv", [["btrfs", "subvolume", "create", "/x/-rf"], ["btrfs", "snapshot", "/nope", "/x/y"],
                                  ["btrfs", "rotate", "/", "/", "a/b", "--keep", "2"]])
def test_bad_input_exits_2_and_runs_nothing(fake_runner: FakeRunner, argv: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(argv, capsys)
    assert code == 2 and err.startswith("bofh: error:")
    assert fake_runner.calls == []


def test_scrub_start_waits_until_finished(fake_runner: FakeRunner, rec: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path)
    fake_runner.expect(["btrfs", "scrub", "start", "--", root], stdout=b"")
    fake_runner.expect(["btrfs", "scrub", "status", "--raw", "--", root], stdout=rec.out("scrub_status_--raw_finished"))
    # the start is a step of the command's atomic block: its undo (cancel) names the filesystem it runs on; tmp_path
    # is on this host's root filesystem (recorded: ext4, so no btrfs UUID)
    fake_runner.expect(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", root], stdout=rec.out("findmnt_target_not-btrfs"))
    code, out, err = _run(["--json", "btrfs", "scrub", "start", root, "--interval", "0"], capsys)
    assert code == 0 and json.loads(out)["state"] == "finished", err


def test_dry_run_prints_the_plan(fake_runner: FakeRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["--dry-run", "btrfs", "subvolume", "create", f"{tmp_path}/new"], capsys)
    assert code == 0 and f"btrfs subvolume create -- {tmp_path}/new" in err
    assert fake_runner.calls == []
