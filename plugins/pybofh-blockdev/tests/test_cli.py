"""``bofh blockdev`` with the fake runner replaying the commands ``list_devices`` ran on a real host."""

from __future__ import annotations

import json

import pytest

from pybofh_core.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``bofh ARGV``; return (exit code, stdout, stderr)."""
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:  # pragma: no cover - main always exits
        code = 0
    out = capsys.readouterr()
    return code, out.out, out.err


def replay(fake_runner, rec) -> None:
    """Answer the recording's argv with its real output."""
    fake_runner.expect(rec.argv, rec.stdout, returncode=rec.returncode)


def test_list_table_shows_the_tree_filled_from_blkid(fake_runner, recording, capsys) -> None:
    """The table indents partitions under their loop and shows fstype/label found by blkid (no udev here)."""
    lsblk = recording("lsblk", "host-all")
    d = lsblk.paths
    replay(fake_runner, lsblk)
    replay(fake_runner, recording("blkid", "host-fill"))
    code, out, _ = run_cli(capsys, "blockdev", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "TYPE", "SIZE", "FSTYPE"]
    row = next(ln for ln in lines if ln.startswith(d["ext4"] + " "))
    assert "ext4" in row and "my disk" in row and d["ext4_mountpoint"] in row
    assert any(ln.startswith("└─" + d["part1"]) and "données" in ln for ln in lines)
    assert [c[0] for c in fake_runner.calls] == ["lsblk", "blkid"]


def test_list_json_is_nested_with_byte_sizes(fake_runner, recording, capsys) -> None:
    """``--json`` nests children like lsblk -J and gives sizes in bytes."""
    lsblk = recording("lsblk", "host-all")
    d = lsblk.paths
    replay(fake_runner, lsblk)
    replay(fake_runner, recording("blkid", "host-fill"))
    code, out, _ = run_cli(capsys, "--json", "blockdev", "list")
    assert code == 0
    doc = {dev["path"]: dev for dev in json.loads(out)}
    parts = doc[d["parts"]]
    assert parts["pttype"] == "gpt" and [c["path"] for c in parts["children"]] == [d["part1"], d["part2"]]
    assert parts["children"][1]["fstype"] == "swap" and doc[d["btrfs"]]["size"] == 400 * 1024**2


def test_mkfs_bad_input_exits_2_without_commands(fake_runner, capsys) -> None:
    """A relative device path is bad input: exit 2, one error line, nothing run."""
    code, _, err = run_cli(capsys, "blockdev", "mkfs", "dev/sdz", "--type", "ext4")
    assert code == 2 and "not an absolute path" in err and fake_runner.calls == []
    code, _, err = run_cli(capsys, "blockdev", "mkfs", "/dev/pybofh-missing", "--type", "ntfs")
    assert code == 2 and fake_runner.calls == []


def test_umount_prints_what_was_unmounted(fake_runner, recording, capsys, fake_nodes) -> None:
    """``umount MOUNTPOINT`` finds the mount with findmnt and runs ``umount -- MOUNTPOINT``; as a step of the
    command's atomic block it first reads the filesystem's UUID (its undo, the mount back, is identified by it)."""
    rec = recording("umount", "ext4")
    d = rec.paths
    fake_nodes(dirs=[d["ext4_mountpoint"]], block=[d["ext4"]])
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, recording("blkid", "probe-ext4-spaced-label"))
    replay(fake_runner, rec)
    code, out, err = run_cli(capsys, "--json", "blockdev", "umount", d["ext4_mountpoint"])
    assert code == 0 and json.loads(out)["source"] == d["ext4"], err
    assert [c for c in fake_runner.calls if c[0] == "umount"] == [("umount", "--", d["ext4_mountpoint"])]


def test_resize_refusal_exits_2(fake_runner, recording, capsys, fake_nodes, journal_dir) -> None:
    """Shrinking xfs is refused as bad input (exit 2) after read-only checks; nothing is changed."""
    d = recording("xfs_info", "mounted").paths
    fake_nodes(block=[d["xfs"]])
    replay(fake_runner, recording("findmnt", "json-all"))
    replay(fake_runner, recording("blkid", "probe-xfs"))
    replay(fake_runner, recording("blockdev", "getsize64-xfs"))
    replay(fake_runner, recording("xfs_info", "mounted"))
    code, _, err = run_cli(capsys, "blockdev", "resize", "--filesystem-only", d["xfs"], "300M")
    assert code == 2 and "cannot shrink" in err
    assert not [c for c in fake_runner.calls if c[0] == "xfs_growfs"]


@pytest.mark.loopdev
def test_loop_label_uuid_and_fsck_commands_on_a_real_loop(loop_factory, tmp_path, capsys, journal_dir) -> None:
    """The API's loop, label, uuid and fsck operations have commands too (#16): attach a file, label and re-UUID
    its ext4, check it, resize the loop, detach — each checked against the real blkid/losetup."""
    import subprocess

    image = tmp_path / "disk.img"
    image.write_bytes(b"")
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    code, out, err = run_cli(capsys, "--json", "blockdev", "loop", "attach", str(image))
    assert code == 0, err
    loop = json.loads(out)["path"]
    try:
        assert run_cli(capsys, "blockdev", "mkfs", loop, "-L", "one")[0] == 0
        assert run_cli(capsys, "blockdev", "label", loop, "two")[0] == 0
        blkid = subprocess.run(["blkid", "-o", "export", loop], capture_output=True, text=True).stdout
        assert "LABEL=two" in blkid
        new = "0d2e7a5c-9a6b-4b0e-8f43-3c2a1e5d7b90"
        assert run_cli(capsys, "blockdev", "uuid", loop, new)[0] == 0
        assert f"UUID={new}" in subprocess.run(["blkid", "-o", "export", loop], capture_output=True, text=True).stdout
        code, out, err = run_cli(capsys, "--json", "blockdev", "fsck", loop)
        assert code == 0 and json.loads(out)["status"] == "clean", err
        assert run_cli(capsys, "blockdev", "loop", "resize", loop, "128M")[0] == 0
        size = subprocess.run(["blockdev", "--getsize64", loop], capture_output=True, text=True).stdout
        assert int(size) == 128 << 20
        code, out, _ = run_cli(capsys, "--json", "blockdev", "loop", "list")
        assert loop in [row["path"] for row in json.loads(out)]
    finally:
        code, _, err = run_cli(capsys, "blockdev", "loop", "detach", loop)
        if code != 0:  # never leave the loop behind, whatever failed
            subprocess.run(["losetup", "--detach", loop], check=False)
    assert code == 0, err
    assert str(image) not in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
