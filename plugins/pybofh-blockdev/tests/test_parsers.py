"""Parsers against outputs recorded from the real tools on this project's machines (``tests/record.py``)."""

from __future__ import annotations

import re

import pytest

from pybofh_blockdev import parsers
from pybofh_core.errors import ParseError

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_lsblk_json_all_columns_loops(recording) -> None:
    """lsblk 2.38 -J -b -O without udev: tree of loops, partitions under their loop, both mountpoint keys read."""
    rec = recording("lsblk", "json-all-columns-loops")
    d = rec.paths
    tree = parsers.parse_lsblk(rec.stdout, source=rec.name)
    assert tree.tree
    assert list(tree.roots) == [d["ext4"], d["parts"], d["btrfs"], d["xfs"], d["empty"]]
    ext = tree.get(d["ext4"])
    assert (ext.type, ext.size, ext.mountpoints) == ("loop", 64 * 1024**2, (d["ext4_mountpoint"],))
    assert ext.fstype is None and ext.label is None  # no udev: lsblk cannot tell; list_devices fills from blkid
    parts = tree.get(d["parts"])
    assert parts.children == (d["part1"], d["part2"]) and parts.mountpoints == ()
    p1 = tree.get(d["part1"])
    assert (p1.type, p1.size, p1.parents) == ("part", 48 * 1024**2, (d["parts"],))
    assert tree.get(d["part2"]).size == 48234496  # 96M - 1M alignment - 48M - GPT backup (33 sectors), 2048-aligned
    assert tree.get(d["xfs"]).mountpoints == (d["xfs_mountpoint"],)
    assert tree.get(d["empty"]).read_only is False
    assert [dev.key for _, dev in tree.walk()] == [d["ext4"], d["parts"], d["part1"], d["part2"], d["btrfs"],
                                                   d["xfs"], d["empty"]]


def test_lsblk_pairs_with_pkname_rebuilds_tree(recording) -> None:
    """lsblk -P with a PKNAME column gives the same tree as -J; MOUNTPOINTS with a space survives."""
    rec = recording("lsblk", "pairs-pkname-loops")
    d = rec.paths
    tree = parsers.parse_lsblk_pairs(rec.stdout, source=rec.name)
    assert tree.tree
    assert tree.get(d["parts"]).children == (d["part1"], d["part2"])
    assert tree.get(d["part2"]).parents == (d["parts"],)
    assert tree.get(d["ext4"]).mountpoints == (d["ext4_mountpoint"],)
    assert " " in d["ext4_mountpoint"]
    assert tree.get(d["btrfs"]).size == 400 * 1024**2


def test_blkid_export_without_cache_fills_every_device(recording) -> None:
    """``blkid -c /dev/null -o export`` over many devices: one block per device found, empty ones left out."""
    rec = recording("blkid", "export-nocache-loops")
    d = rec.paths
    probes = {p.device: p for p in parsers.parse_blkid(rec.stdout, source=rec.name)}
    assert d["empty"] not in probes
    assert probes[d["ext4"]].label == "my disk" and probes[d["ext4"]].type == "ext4"
    assert probes[d["parts"]].tags["PTTYPE"] == "gpt" and probes[d["parts"]].type is None
    assert probes[d["part1"]].label == "données"  # printed as donnM-CM-)es
    assert probes[d["part2"]].type == "swap" and probes[d["part2"]].label == "swap1"
    assert probes[d["btrfs"]].label == "pool" and probes[d["xfs"]].label == "xlabel"
    assert all(UUID_RE.match(p.uuid or "") for k, p in probes.items() if k != d["parts"])


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("probe-ext4-spaced-label", {"TYPE": "ext4", "LABEL": "my disk", "USAGE": "filesystem", "VERSION": "1.0"}),
        ("probe-ext4-utf8-label", {"TYPE": "ext4", "LABEL": "données", "PART_ENTRY_SCHEME": "gpt"}),
        ("probe-swap", {"TYPE": "swap", "LABEL": "swap1", "USAGE": "other", "VERSION": "1"}),
        ("probe-gpt", {"PTTYPE": "gpt"}),
        ("probe-btrfs", {"TYPE": "btrfs", "LABEL": "pool", "USAGE": "filesystem"}),
        ("probe-xfs", {"TYPE": "xfs", "LABEL": "xlabel", "USAGE": "filesystem"}),
    ],
)
def test_blkid_probe_single(recording, case: str, expected: dict[str, str]) -> None:
    """``blkid -p -o export DEV``: the tags the layer probe hook receives."""
    rec = recording("blkid", case)
    (probe,) = parsers.parse_blkid_export(rec.stdout, source=rec.name)
    assert probe.device == rec.argv[-1]
    assert {k: probe.tags.get(k) for k in expected} == expected


def test_blkid_probe_nothing_found_is_empty(recording) -> None:
    """An empty device: exit status 2, no output, no probes."""
    rec = recording("blkid", "probe-empty")
    assert rec.returncode == 2 and parsers.parse_blkid(rec.stdout) == []


def test_blkid_low_probe_stops_at_first_empty_device(recording) -> None:
    """Why list_devices cannot use one ``blkid -p`` call: it stops at the first device without a signature."""
    rec = recording("blkid", "probe-many-stops-at-empty")
    assert rec.returncode == 2 and rec.stdout == b""
    assert rec.argv[-2:] == [rec.paths["empty"], rec.paths["ext4"]]


def test_findmnt_json_and_pairs_agree(recording) -> None:
    """findmnt -J (tree) and -P (flat) list the same mounts; the spaced mountpoint and ro xfs are read."""
    rec = recording("findmnt", "json-all")
    d = rec.paths
    tree = parsers.parse_findmnt(rec.stdout, source=rec.name)
    flat = parsers.parse_findmnt(recording("findmnt", "pairs-all").stdout)
    assert sorted((m.target, m.source, m.fstype, m.options) for m in tree) == sorted(
        (m.target, m.source, m.fstype, m.options) for m in flat
    )  # -P lists in mount order, -J as a tree
    by_target = {m.target: m for m in tree}
    ext = by_target[d["ext4_mountpoint"]]
    assert (ext.device, ext.fstype, ext.fsroot, ext.read_only) == (d["ext4"], "ext4", "/", True)
    assert not by_target[d["xfs_mountpoint"]].read_only
    btr = by_target[d["btrfs_mountpoint"]]
    assert "subvolid=5" in btr.options and btr.parent is not None
    assert tree[0].target == "/" and tree[0].parent is None


def test_losetup_json(recording) -> None:
    """losetup --list --json: device and backing file."""
    rec = recording("losetup", "list-json-one")
    (loop,) = parsers.parse_losetup_json(rec.stdout)
    assert loop.path == rec.paths["ext4"]
    assert loop.backing_file == rec.paths["backing_dir"] + "/ext4.img"
    assert (loop.read_only, loop.offset, loop.sizelimit) == (False, 0, 0)


def test_filesystem_reports(recording) -> None:
    """dumpe2fs -h, resize2fs -P, xfs_info, btrfs show --raw and min-dev-size as recorded."""
    ext = parsers.parse_dumpe2fs(recording("dumpe2fs", "header-ext4").stdout)
    assert (ext["block_count"], ext["block_size"], ext["size"], ext["label"]) == (65536, 1024, 64 * 1024**2, "my disk")
    assert ext["state"] == "clean" and UUID_RE.match(str(ext["uuid"]))
    assert parsers.parse_resize2fs_minimum(recording("resize2fs", "minimum-ext4").stdout) == 13694
    assert parsers.parse_xfs_info(recording("xfs_info", "mounted").stdout) == {
        "block_size": 4096, "blocks": 81920, "size": 320 * 1024**2}
    rec = recording("btrfs", "filesystem-show-raw")
    assert parsers.parse_btrfs_devices(rec.stdout) == [
        {"devid": 1, "size": 400 * 1024**2, "used": 92274688, "path": rec.paths["btrfs"]}]
    assert parsers.parse_btrfs_min_dev_size(recording("btrfs", "min-dev-size").stdout) == 105906176
    assert parsers.parse_swapon(recording("swapon", "show-none").stdout) == []


@pytest.mark.parametrize(
    ("tool", "parser", "text"),
    [
        ("lsblk", parsers.parse_lsblk, "NAME MAJ:MIN RM SIZE\nsda 8:0 0 10G\n"),
        ("lsblk", parsers.parse_lsblk, '{"blockdevices": [{"name": "a", "size": "many"}]}'),
        ("lsblk", parsers.parse_lsblk, '{"blockdevices": [{"name": "a", "name": "b"}]}'),
        ("lsblk", parsers.parse_lsblk, '{"devices": []}'),
        ("lsblk", parsers.parse_lsblk, '{"blockdevices": [{"name": "a", "rm": "maybe"}]}'),
        ("lsblk", parsers.parse_lsblk, 'NAME="a" SIZE="1" junk\n'),
        ("lsblk", parsers.parse_lsblk, 'NAME="a" PKNAME="nope"\n'),
        ("lsblk", parsers.parse_lsblk, '{"blockdevices": []} trailing'),
        ("blkid", parsers.parse_blkid, "TYPE=ext4\nnot a pair\n"),
        ("blkid", parsers.parse_blkid, "???\n"),
        ("findmnt", parsers.parse_findmnt, '{"filesystems": [{"target": "/"}]}'),
        ("findmnt", parsers.parse_findmnt, "TARGET SOURCE\n/ /dev/sda1\n"),
        ("losetup", parsers.parse_losetup_json, '{"loopdevices": [{"back-file": "x"}]}'),
        ("dumpe2fs", parsers.parse_dumpe2fs, "dumpe2fs: Bad magic number in super-block\n"),
        ("resize2fs", parsers.parse_resize2fs_minimum, "resize2fs: Bad magic number\n"),
        ("xfs_info", parsers.parse_xfs_info, "xfs_info: /mnt is not a mounted XFS filesystem\n"),
        ("btrfs", parsers.parse_btrfs_devices, "Label: none  uuid: x\n\tTotal devices 1\n"),
        ("btrfs", parsers.parse_btrfs_min_dev_size, "ERROR: not a btrfs filesystem\n"),
    ],
)
def test_unclaimed_output_is_a_typed_parse_error(tool: str, parser, text: str) -> None:
    """Output a parser does not claim raises ParseError naming the tool and the source, never a half result."""
    with pytest.raises(ParseError) as exc:
        parser(text, source="case.txt")
    assert exc.value.tool == tool and exc.value.source == "case.txt"


def test_warning_lines_before_json_are_skipped_not_parsed() -> None:
    """Diagnostic lines before JSON (as lsblk prints on some systems) become warnings."""
    text = 'lsblk: dm-1: failed to get device path\n{"blockdevices": [{"name": "sda", "size": 10}]}\n'
    tree = parsers.parse_lsblk(text)
    assert tree.warnings == ("lsblk: dm-1: failed to get device path",) and tree.get("sda").size == 10


def test_bytes_with_nul_and_invalid_utf8_are_accepted() -> None:
    """Bytes input: a NUL byte is dropped and invalid UTF-8 becomes U+FFFD rather than crashing."""
    tree = parsers.parse_lsblk_pairs(b'NAME="sda" LABEL="a\xffb"\x00 SIZE="10"\n')
    assert tree.get("sda").label == "a\ufffdb" and tree.get("sda").size == 10


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (r"my\ disk", "my disk"),
        (r"tM-CM-)s\"\'^J\ t", "tés\"'\n t"),
        ("SYSTEM-A", "SYSTEM-A"),  # literal M- that is not blkid's notation stays as it is
        ("a^b", "a^b"),
    ],
)
def test_blkid_value_decoding(raw: str, decoded: str) -> None:
    """blkid's backslash escapes and M-/^ notation are undone; ambiguous literal text is kept."""
    assert parsers.decode_blkid_value(raw) == decoded


def test_content_sizes_for_data_checks(recording) -> None:
    """What a filesystem or swap area itself takes of its device, read from recorded superblocks and headers."""
    assert parsers.parse_btrfs_dev_total_bytes(recording("btrfs", "dump-super").stdout) == 400 * 1024**2
    assert parsers.parse_xfs_db_size(recording("xfs_db", "size").stdout) == 320 * 1024**2
    assert parsers.parse_swap_header(recording("dd", "swap-header-16m").stdout) == 16 * 1024**2
    for bad in (b"", b"SWAPSPACE2", recording("btrfs", "dump-super").stdout[:64]):
        with pytest.raises(ParseError):
            parsers.parse_swap_header(bad)
