"""Labels that are not UTF-8 keep their bytes; blkid's ambiguous export notation is resolved with ``-o udev``.

Recorded by ``tests/record.py labels``: two ext4 loop devices labelled ``b"Donn\\xe9es"`` (``Données`` in Latin-1)
and ``SYSTEM-A``.
"""

from __future__ import annotations

import pytest

from pybofh_blockdev import facts, parsers
from pybofh_core.errors import ParseError

LATIN1 = b"Donn\xe9es"


def test_udev_enc_keeps_the_exact_bytes(recording) -> None:
    """``blkid -o udev`` hex-escapes the byte: the text shows U+FFFD and ``raw`` round-trips the label."""
    rec = recording("blkid", "probe-udev-ext4-latin1-label")
    (probe,) = parsers.parse_blkid_udev(rec.stdout, source=rec.name)
    assert probe.label == "Donn\ufffdes"
    assert probe.raw == {"LABEL": LATIN1} and probe.label_bytes == LATIN1
    assert probe.label_bytes.decode("latin-1") == "Données"
    assert probe.ambiguous == frozenset() and probe.type == "ext4"


@pytest.mark.parametrize("case", ["probe-ext4-latin1-label", "export-nocache-odd-labels", "full-nocache-odd-labels"])
def test_export_and_full_notation_is_ambiguous(recording, case: str) -> None:
    """``DonnM-ies`` and ``SYSTEM-A`` read as bytes are not UTF-8: literal text kept, the tag named ambiguous."""
    rec = recording("blkid", case)
    probes = {p.device: p for p in parsers.parse_blkid(rec.stdout, source=rec.name)}
    latin1 = probes[rec.paths["latin1"]]
    assert latin1.label == "DonnM-ies" and latin1.ambiguous == frozenset({"LABEL"}) and latin1.raw == {}
    if "literal" in rec.paths and rec.paths["literal"] in probes:
        literal = probes[rec.paths["literal"]]
        assert literal.label == "SYSTEM-A" and literal.ambiguous == frozenset({"LABEL"})
        assert literal.label_bytes == b"SYSTEM-A"


def test_unambiguous_notation_is_not_flagged(recording) -> None:
    """A UTF-8 label in ``M-`` notation (``donnM-CM-)es``) decodes to ``données`` and is not ambiguous."""
    rec = recording("blkid", "probe-ext4-utf8-label")
    (probe,) = parsers.parse_blkid_export(rec.stdout, source=rec.name)
    assert probe.label == "données" and probe.ambiguous == frozenset() and probe.label_bytes == "données".encode()


def replay(fake_runner, rec, stdout: bytes | None = None) -> None:
    """Answer the recording's argv with its real output (or ``stdout``)."""
    fake_runner.expect(rec.argv, rec.stdout if stdout is None else stdout, returncode=rec.returncode)


def test_list_devices_reads_ambiguous_labels_exactly(fake_runner, recording) -> None:
    """list_devices: lsblk, one blkid export call, then one udev call for the two ambiguous labels only."""
    lsblk = recording("lsblk", "host-odd-labels")
    d = lsblk.paths
    replay(fake_runner, lsblk)
    replay(fake_runner, recording("blkid", "host-fill-odd-labels"))
    udev = recording("blkid", "host-udev-labels-odd-labels")
    assert udev.argv[-2:] == [d["latin1"], d["literal"]]
    replay(fake_runner, udev)
    tree = facts.list_devices()
    latin1, literal = tree.get(d["latin1"]), tree.get(d["literal"])
    assert (latin1.label, latin1.label_raw, latin1.label_bytes) == ("Donn\ufffdes", LATIN1, LATIN1)
    assert (literal.label, literal.label_raw, literal.label_bytes) == ("SYSTEM-A", None, b"SYSTEM-A")
    assert latin1.fstype == literal.fstype == "ext4"
    assert [c[0] for c in fake_runner.calls] == ["lsblk", "blkid", "blkid"]


@pytest.mark.parametrize("damage", ["other-uuid", "one-block"])
def test_list_devices_keeps_the_literal_reading_when_udev_does_not_match(fake_runner, recording, damage) -> None:
    """If the udev blocks cannot be matched to the devices (UUID differs, a block missing), nothing is guessed."""
    lsblk = recording("lsblk", "host-odd-labels")
    d = lsblk.paths
    replay(fake_runner, lsblk)
    replay(fake_runner, recording("blkid", "host-fill-odd-labels"))
    udev = recording("blkid", "host-udev-labels-odd-labels")
    blocks = udev.stdout.split(b"\n\n")
    if damage == "other-uuid":
        out = udev.stdout.replace(blocks[0].split(b"ID_FS_UUID=")[1][:8], b"00000000")
    else:
        out = blocks[0] + b"\n"
    replay(fake_runner, udev, out)
    latin1 = facts.list_devices().get(d["latin1"])
    assert (latin1.label, latin1.label_raw) == ("DonnM-ies", None)


def test_raw_bytes_in_any_blkid_format_survive() -> None:
    """Raw non-UTF-8 bytes (``blkid -d``, or a raw ``PART_ENTRY_NAME`` in udev output) are kept, never lost."""
    (probe,) = parsers.parse_blkid_export(b"DEVNAME=/dev/x\nLABEL=caf\xe9\nTYPE=vfat\n")
    assert probe.label == "caf\ufffd" and probe.raw["LABEL"] == b"caf\xe9"
    (probe,) = parsers.parse_blkid(b"DEVNAME=/dev/x\nLABEL=caf\xe9\nTYPE=vfat\n")
    assert probe.raw["LABEL"] == b"caf\xe9"
    (probe,) = parsers.parse_blkid_udev(b"ID_PART_ENTRY_NAME=\xff\xfe\nID_FS_TYPE=vfat\n")
    assert probe.raw["PART_ENTRY_NAME"] == b"\xff\xfe" and probe.tags["PART_ENTRY_NAME"] == "\ufffd\ufffd"
    with pytest.raises(ParseError) as info:
        parsers.parse_blkid_export(b"DEVNAME=/dev/x\n\xff bad line\n")
    assert "\udcff" not in str(info.value)  # error texts are printable
