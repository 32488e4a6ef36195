"""pybofh-crypt's ``bofh status`` section: open dm-crypt mappings from one recorded ``dmsetup info -c``
(tests/record_dmsetup.py: in the VM test bed, and on this host without device-mapper)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybofh_core.errors import ParseError
from pybofh_core.runner import FakeRunner
from pybofh_core.testing import Recordings
from pybofh_crypt.bofh_status import DMSETUP_INFO_ARGV, parse_dmsetup_info, sections

RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")
VERSION = "1.02.185"


def replay(runner: FakeRunner, case: str) -> None:
    """Answer ``dmsetup info`` with the recording ``case`` (stdout, stderr, exit code)."""
    rec = RECORDINGS.get("dmsetup", case, VERSION)
    runner.expect(DMSETUP_INFO_ARGV, rec.stdout, stderr=rec.stderr, returncode=rec.returncode)


def test_mappings_of_every_kind_and_nothing_else(fake_runner: FakeRunner) -> None:
    """LUKS2 on a loop, LUKS1 on an LV (named with a space and a colon), plain read-only; the LV's own row is not a
    mapping. Expected values were written by the recorder from what it made (cryptsetup luksUUID), not parsed."""
    replay(fake_runner, "info-luks-lvm-plain")
    expect = RECORDINGS.get("dmsetup", "info-luks-lvm-plain", VERSION).expected
    (sec,) = sections()
    assert fake_runner.calls == [tuple(DMSETUP_INFO_ARGV)]
    rows = {r["mapping"]: r for r in sec.rows}
    assert set(rows) == set(expect) - {"not crypt"}
    for name, want in expect.items():
        if name != "not crypt":
            got = rows[name]
            assert {k: got[k] for k in want} == want and got["path"] == f"/dev/mapper/{name}"
    assert rows["odd name:x"]["open"] == 0
    text = sec.render_text()
    assert text.startswith("Encrypted mappings (dm-crypt):\n  MAPPING     TYPE   DEVICE")
    assert "odd name:x  LUKS1  /dev/mapper/pybofhstatus-lv1" in text


def test_no_mapping_open(fake_runner: FakeRunner) -> None:
    replay(fake_runner, "info-none")
    (sec,) = sections()
    assert (sec.status, sec.rows, sec.render_text()) == ("ok", [], "Encrypted mappings (dm-crypt): none")


def test_a_kernel_without_device_mapper_is_unavailable_not_an_error(fake_runner: FakeRunner) -> None:
    """Recorded on this host: dmsetup exits 1 with 'Failure to communicate with kernel device-mapper driver'."""
    replay(fake_runner, "info-no-device-mapper")
    (sec,) = sections()
    assert sec.status == "unavailable"
    assert sec.unavailable == "device-mapper is not available: the kernel module dm_mod is not loaded"


def test_another_dmsetup_failure_is_an_error(fake_runner: FakeRunner) -> None:
    fake_runner.expect(DMSETUP_INFO_ARGV, stderr=b"/dev/mapper/control: open failed: Permission denied\n",
                       returncode=1)
    (sec,) = sections()
    assert sec.status == "error" and "Permission denied" in (sec.error or "")


def test_a_uuid_holding_the_separator_is_read_whole() -> None:
    (dev,) = parse_dmsetup_info("mpatha/mpath-odd/uuid/dm-4/sda,sdb/2/L--w\n")
    assert (dev.name, dev.uuid, dev.kname, dev.uses, dev.open, dev.crypt_type) == (
        "mpatha", "mpath-odd/uuid", "dm-4", ("sda", "sdb"), 2, None)


@pytest.mark.parametrize("line", [
    "just-a-name", "a/b/c", "name/uuid/sda/loop0/0/L--w", "name/uuid/dm-0/loop0/x/L--w", "/uuid/dm-0/loop0/0/L--w",
])
def test_lines_of_another_shape_are_refused(line: str) -> None:
    with pytest.raises(ParseError):
        parse_dmsetup_info(line, source="test")
