"""Every sample of ``../shared/corpus/blockdev`` through the pure parsers: a typed result with its key fields
checked, or a typed ParseError naming the file for a format the parsers do not claim.

The expectations were written by reading each sample; the corpus is read in place (never copied here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_blockdev import parsers
from pybofh_blockdev.types import DeviceTree, Mount, Probe
from pybofh_core.errors import ParseError

NOT_CLAIMED = "table/tree output is not claimed"

# file name -> expectation. lsblk: count, tree, and per device {field: value}; blkid: count and per device (or
# index) {tag: value}; findmnt: count and per target {field: value}; or ParseError with the message fragment.
EXPECTED: dict[str, Any] = {
    # --- lsblk -P (pairs) -----------------------------------------------------------------------------------------
    "lsblk_-P-p_intel-imsm-fakeraid_md-partitions_rockstor.txt": {
        "count": 7, "tree": False,  # md126 and its partitions are printed under both disks: kept once
        "devices": {
            "/dev/sdb": {"type": "disk", "size": None, "size_text": "149.1G", "fstype": "isw_raid_member",
                         "vendor": "ATA", "model": "TOSHIBA MK1652GS", "label": None, "uuid": None},
            "/dev/md126": {"type": "raid1", "size_text": "149G", "fstype": None},
            "/dev/md126p3": {"type": "md", "fstype": "btrfs", "label": "rockstor_rockstor00",
                             "uuid": "1c59b842-5d08-4472-a731-c593ab0bff93"},
            "/dev/md126p2": {"fstype": "swap", "size_text": "2G"},
            "/dev/sda": {"model": "WDC WD3200AAKS-7", "serial": "WD-WMAV20342011", "fstype": None},
        },
    },
    "lsblk_-P-p_luks-on-bcache_repeated-multi-parent_rockstor.txt": {
        "count": 15, "tree": False,
        "devices": {
            "/dev/bcache0": {"type": "disk", "fstype": "crypto_LUKS", "uuid": "3efb3830-fee1-4a9e-a5c6-ea456bfc269e"},
            "/dev/mapper/luks-3efb3830-fee1-4a9e-a5c6-ea456bfc269e": {
                "type": "crypt", "fstype": "btrfs", "label": "pool-on-mixed-luks", "size_text": "2G"},
            "/dev/sr0": {"type": "rom", "model": "QEMU DVD-ROM", "vendor": "QEMU", "size_text": "1024M"},
            "/dev/vdb": {"vendor": "0x1af4", "fstype": "crypto_LUKS"},
            "/dev/vda": {"fstype": "btrfs", "label": "rock-pool", "uuid": "d7e5987d-9428-4b4a-9abb-f3d564e4c467"},
            "/dev/sda2": {"type": "part", "fstype": "swap", "size_text": "820M"},
        },
    },
    "lsblk_-P-p_luks-system-disk_centos_rockstor.txt": {
        "count": 9, "tree": False,
        "devices": {
            "/dev/sdc2": {"type": "part", "fstype": "crypto_LUKS", "uuid": "3efae1ba-dbdf-4102-8bdc-e607e3448a7d"},
            "/dev/mapper/luks-3efae1ba-dbdf-4102-8bdc-e607e3448a7d": {"type": "crypt", "fstype": "swap",
                                                                      "size_text": "818M"},
            "/dev/sdb": {"serial": "2", "fstype": "btrfs", "label": "rock-pool"},
            "/dev/sda": {"serial": "1", "uuid": "50b66542-9a19-4403-b5a0-cd22412d9ae9"},
        },
    },
    "lsblk_-P-p_mdraid-raid1-system_rockstor.txt": {
        "count": 12, "tree": False,
        "devices": {
            "/dev/sdb2": {"fstype": "linux_raid_member", "label": "rockstor:boot", "size_text": "954M"},
            "/dev/md126": {"type": "raid1", "fstype": "ext4", "uuid": "9df7d0f5-d109-4e84-a0f0-03a0cf0c03ad"},
            "/dev/md127": {"fstype": "btrfs", "label": "rockstor_rockstor"},
            "/dev/sr0": {"fstype": "iso9660", "label": "Rockstor 3 x86_64", "uuid": "2017-07-02-03-11-01-00"},
        },
    },
    "lsblk_-P-p_nvme-system-disk_forum-user_rockstor.txt": {
        "count": 7, "tree": False,
        "devices": {
            "/dev/sdb": {"size_text": "9.1T", "vendor": "ATA", "fstype": "btrfs", "label": "Data"},
            "/dev/nvme0n1": {"model": "INTEL SSDPEKKW128G7", "serial": "BTPY72910KCW128A", "vendor": None},
            "/dev/nvme0n1p1": {"fstype": "vfat", "uuid": "53DC-1323", "size_text": "200M"},
        },
    },
    "lsblk_-P-p_values-with-leading-spaces_usb_rockstor.txt": {
        "count": 8, "tree": False,
        "devices": {
            "/dev/sda": {"vendor": None, "model": "ST18000NM000J-2T", "fstype": "btrfs", "label": "Pool"},  # "        "
            "/dev/sdd": {"vendor": "USB", "model": "SanDisk 3.2Gen1", "size_text": "57.3G"},  # " USB    "
            "/dev/sdb": {"vendor": "Msft", "model": "Virtual Disk"},
            "/dev/sdb2": {"fstype": "vfat", "label": "EFI", "uuid": "1381-2428"},
            "/dev/fd0": {"size_text": "4K", "fstype": None},
        },
    },
    "lsblk_pairs_all_ubuntu-14.04_human-sizes_drivelist.txt": {
        "count": 23, "tree": False,
        "devices": {
            "sda": {"maj_min": "8:0", "size_text": "931.5G", "removable": False, "read_only": False},
            "sdb": {"size": None, "size_text": None, "removable": True},  # SIZE="" for a card reader
            "sdd1": {"mountpoints": ("/media/<username>/85CA-6700",), "type": "part"},
            "nvme0n1p4": {"mountpoints": ("/",), "size_text": "116.5G"},
            "loop7": {"type": "loop", "size": None, "mountpoints": ()},
        },
    },
    "lsblk_pairs_bytes_all_ubuntu-14.04_drivelist.txt": {
        "count": 32, "tree": False,
        "devices": {
            "sda": {"size": 1024209543168, "type": "disk"},
            "sda1": {"size": 524288000, "mountpoints": ("/boot/efi",)},
            "sda5": {"size": 16980639744, "mountpoints": ("[SWAP]",)},
            "ram15": {"size": 67108864, "maj_min": "1:15"},
            "loop0": {"size": None},
        },
    },
    "lsblk_pairs_bytes_centos7_lvm_drivelist-issue.txt": {
        "count": 9, "tree": False,
        "devices": {
            "centos-root": {"type": "lvm", "size": 53687091200, "mountpoints": ("/",), "maj_min": "253:0"},
            "centos-swap": {"size": 8455716864, "mountpoints": ("[SWAP]",)},
            "sdc": {"size": 31457280000, "removable": True, "mountpoints": ("/run/media/DA2E4172/MK-BUILD",)},
            "sdb": {"size": None, "removable": True},
        },
    },
    "lsblk_pairs_many-columns_rhel6_insights.txt": {
        "count": 7, "tree": False,
        "devices": {
            "sr0": {"type": "rom", "model": "DVD+-RW DVD8801", "size_text": "1024M"},
            "sda2": {"fstype": "LVM2_member", "uuid": "fFE3aA-ifqV-09uh-1u18-b3mV-73gK-FApXf1"},
            "vg_trex-lv_root": {"kname": "dm-0", "type": "lvm", "fstype": "ext4", "mountpoints": ("/",),
                                "size_text": "50G"},
            "vg_trex-lv_swap": {"kname": "dm-1", "fstype": "swap", "mountpoints": ("[SWAP]",)},
        },
    },
    "lsblk_pairs_with-failed-path-errors_insights.txt": {
        "count": 1, "tree": False, "warnings": 4,  # the four 'failed to get device path' lines
        "devices": {"sda": {"kname": "sda", "model": "PERC H710P", "size_text": "931G", "type": "disk"}},
    },
    # --- lsblk -J ---------------------------------------------------------------------------------------------------
    "lsblk_--json_-o_fstype-path-uuid-fsver-mountpoint-name-state_luks_arch_qkzk-fm.json": {
        "count": 19, "tree": True,
        "devices": {
            "/dev/loop0": {"name": "loop0", "fstype": "iso9660", "fsver": "Joliet Extension",
                           "mountpoints": ("/run/media/quentin/fm_iso",), "size": None},
            "/dev/sdb": {"fstype": "crypto_LUKS", "children": ("/dev/mapper/e2838de1-018a-44a9-bcc2-121a04251a31",)},
            "/dev/mapper/e2838de1-018a-44a9-bcc2-121a04251a31": {
                "fstype": "ext4", "parents": ("/dev/sdb",), "uuid": "a5a75c3a-93eb-4bbe-b9c8-9a77e5b16769",
                "mountpoints": ("/run/media/quentin/e2838de1-018a-44a9-bcc2-121a04251a31",)},
            "/dev/nvme0n1": {"children": ("/dev/nvme0n1p1", "/dev/nvme0n1p2"), "mountpoints": ()},
            "/dev/nvme0n1p2": {"mountpoints": ("/",), "parents": ("/dev/nvme0n1",)},
        },
    },
    # --- lsblk table/tree outputs: not claimed ----------------------------------------------------------------------
    "lsblk_-l_-o_fstype-path-uuid-fsver-mountpoint_luks_arch_qkzk-fm.txt": NOT_CLAIMED,
    "lsblk_table_many-columns_centos-7.7_jc.txt": NOT_CLAIMED,
    "lsblk_tree_ascii_simple-lvm_util-linux-tests.txt": NOT_CLAIMED,
    "lsblk_tree_ascii_simple-nvme_util-linux-tests.txt": NOT_CLAIMED,
    "lsblk_tree_default_ubuntu-18.04_jc.txt": NOT_CLAIMED,
    "lsblk_tree_rhel6_kname-in-parens_multipath_insights.txt": NOT_CLAIMED,
    # --- blkid ------------------------------------------------------------------------------------------------------
    "blkid_-ip_-o-udev_two-devs_centos-7.7_jc.txt": {
        "count": 2,
        "probes": {
            0: {"TYPE": "LVM2_member", "USAGE": "raid", "VERSION": "LVM2 001", "PART_ENTRY_NUMBER": "2",
                "UUID": "3klkIj-w1qk-DkJi-0XBJ-y3o7-i2Ac-vHqWBM", "MINIMUM_IO_SIZE": "512"},
            1: {"TYPE": "xfs", "UUID": "05d927bb-5875-49e3-ada1-7f46cb31c932", "PART_ENTRY_FLAGS": "0x80"},
        },
    },
    "blkid_-ip_two-devs_centos-7.7_jc.txt": {
        "count": 2,
        "probes": {
            "/dev/sda2": {"TYPE": "LVM2_member", "VERSION": "LVM2 001", "PART_ENTRY_SIZE": "39843840"},
            "/dev/sda1": {"TYPE": "xfs", "USAGE": "filesystem", "PART_ENTRY_OFFSET": "2048"},
        },
    },
    "blkid_-ip_two-devs_ubuntu-18.04_jc.txt": {
        "count": 2,
        "probes": {
            "/dev/sda2": {"TYPE": "ext4", "VERSION": "1.0", "UUID": "011527a0-c72a-4c00-a50e-ee90da26b6e2",
                          "PART_ENTRY_SCHEME": "gpt"},
            "/dev/sda1": {"TYPE": None, "PART_ENTRY_TYPE": "21686148-6449-6e6f-744e-656564454649"},
        },
    },
    "blkid_default_mixed-devices_insights.txt": {
        "count": 9,
        "probes": {
            "/dev/sda1": {"TYPE": "xfs", "UUID": "3676157d-f2f5-465c-a4c3-3c2a52c8d3f4"},
            "/dev/mapper/rhel_hp--dl160g8--3-swap": {"TYPE": "swap"},
            "/dev/cciss/c0d1p3": {"LABEL": "/u02", "TYPE": "ext3"},
            "/dev/loop0": {"LABEL": "Satellite-5.6.0 x86_64 Disc 0", "TYPE": "iso9660", "UUID": None},
            "/dev/block/253:1": {"TYPE": "ext2", "UUID": "f8508c37-eeb1-4598-b084-5364d489031f"},
        },
    },
    "blkid_default_ubuntu-18.04_jc.txt": {
        "count": 15,
        "probes": {
            "/dev/fd0": {"SEC_TYPE": "msdos", "TYPE": "vfat", "UUID": "4F0C-5223"},
            "/dev/sda2": {"PARTUUID": "744589e8-5711-4750-9984-c34d66f93879"},
            "/dev/sr1": {"LABEL": "Ubuntu-Server 18.04.3 LTS amd64", "PTTYPE": "dos", "UUID": "2019-08-05-20-00-00-00"},
            "/dev/loop10": {"TYPE": "squashfs"},
        },
    },
    "blkid_probe_export_weird-label_util-linux-tests.txt": {
        "count": 1, "probes": {"blkid-output.img": {"LABEL": "tés\"'\n t", "TYPE": "cramfs", "FSSIZE": "4096"}},
    },
    "blkid_probe_full_weird-label_util-linux-tests.txt": {
        "count": 1, "probes": {"blkid-output.img": {"LABEL": "tés\"'\n t", "ENDIANNESS": "LITTLE"}},
    },
    "blkid_probe_json_weird-label_util-linux-tests.json": {
        "count": 1, "probes": {"blkid-output.img": {"LABEL": "tés\"'\n t", "TYPE": "cramfs", "VERSION": "2"}},
    },
    "blkid_probe_udev_drbd-v09_util-linux-tests.txt": {
        "count": 1, "probes": {0: {"TYPE": "drbd", "USAGE": "raid", "UUID": "4242424242424242", "VERSION": "v09"}},
    },
    "blkid_probe_udev_luks2_util-linux-tests.txt": {
        "count": 1,
        "probes": {0: {"TYPE": "crypto_LUKS", "USAGE": "crypto", "LABEL": "tst_label", "SUBSYSTEM": "tst_subsys",
                       "VERSION": "2", "UUID": "202265fe-9842-4c2d-ac9b-aba1b05deb63"}},
    },
    "blkid_probe_udev_lvm2-pv_util-linux-tests.txt": {
        "count": 1, "probes": {0: {"TYPE": "LVM2_member", "VERSION": "LVM2 001",
                                   "UUID": "Vynv4k-APH8-xQER-HSBb-8VJ3-SvFF-PB5O1U"}},
    },
    "blkid_probe_udev_weird-label_util-linux-tests.txt": {
        "count": 1, "probes": {0: {"LABEL": "tés\"'\n t", "TYPE": "cramfs", "FSSIZE": "4096"}},  # from LABEL_ENC
    },
    # --- findmnt ----------------------------------------------------------------------------------------------------
    "findmnt_all_json_util-linux-tests.json": {
        "count": 32,
        "mounts": {
            "/": {"source": "/dev/sda4", "fstype": "ext3", "parent": None, "options_has": "errors=continue"},
            "/home/kzak/.gvfs": {"source": "gvfs-fuse-daemon", "fstype": "fuse.gvfs-fuse-daemon",
                                 "parent": "/home/kzak"},
            "/sys/fs/cgroup/blkio": {"fstype": "cgroup", "parent": "/sys/fs/cgroup"},
            "/mnt/sounds": {"source": "//foo.home/bar/", "fstype": "cifs", "options_has": "unc=\\\\foo.home\\bar"},
        },
    },
    "findmnt_pairs_util-linux-tests.txt": {
        "count": 32,
        "mounts": {
            "/": {"source": "/dev/sda4", "fstype": "ext3", "parent": None},
            "/boot": {"source": "/dev/sda6", "fstype": "ext3"},
            "/mnt/sounds": {"source": "//foo.home/bar/", "options_has": "unc=\\\\foo.home\\bar"},  # from \x5c
        },
    },
}


def _parser_for(name: str) -> Any:
    if name.startswith("lsblk"):
        return parsers.parse_lsblk
    if name.startswith("blkid"):
        return parsers.parse_blkid
    if name.startswith("findmnt"):
        return parsers.parse_findmnt
    raise AssertionError(f"no parser for corpus file {name}")


def corpus_files() -> list[str]:
    """Names of the blockdev corpus samples (empty when the corpus is absent: the fixture then skips)."""
    import os

    candidates = [Path(os.environ["PYBOFH_CORPUS"])] if os.environ.get("PYBOFH_CORPUS") else []
    candidates += [parent / "shared" / "corpus" for parent in Path(__file__).resolve().parents]
    for base in candidates:  # same search as the root conftest's ``corpus`` fixture
        if (base / "README.md").is_file() and (base / "blockdev").is_dir():
            return sorted(p.name for p in (base / "blockdev").iterdir())
    return []


def test_every_corpus_file_has_an_expectation(corpus: Path) -> None:
    """The table covers exactly the files present: a new sample needs an expectation written for it."""
    assert sorted(EXPECTED) == sorted(p.name for p in (corpus / "blockdev").iterdir())


def _check_tree(tree: DeviceTree, exp: dict[str, Any]) -> None:
    assert len(tree) == exp["count"]
    assert tree.tree is exp["tree"]
    assert len(tree.warnings) == exp.get("warnings", 0)
    for key, fields in exp["devices"].items():
        dev = tree.devices[key]
        assert {f: getattr(dev, f) for f in fields} == fields, key
    for dev in tree:  # no device is half-filled: a name, and either exact bytes, human text or a known absence
        assert dev.name and dev.key
        assert not (dev.size is not None and dev.size_text is not None)


def _check_probes(probes: list[Probe], exp: dict[str, Any]) -> None:
    assert len(probes) == exp["count"]
    by_dev = {p.device: p for p in probes}
    for ref, tags in exp["probes"].items():
        probe = probes[ref] if isinstance(ref, int) else by_dev[ref]
        assert {k: probe.tags.get(k) for k in tags} == tags, ref


def _check_mounts(mounts: list[Mount], exp: dict[str, Any]) -> None:
    assert len(mounts) == exp["count"]
    by_target: dict[str, Mount] = {}
    for m in mounts:
        by_target.setdefault(m.target, m)
    for target, fields in exp["mounts"].items():
        m = by_target[target]
        for f, v in fields.items():
            if f == "options_has":
                assert v in m.options, (target, m.options)
            else:
                assert getattr(m, f) == v, (target, f)


@pytest.mark.parametrize("name", corpus_files() or ["(corpus absent)"])
def test_corpus_sample(corpus: Path, name: str) -> None:
    """One sample: its typed result matches the expectation, or it raises the expected typed ParseError."""
    path = corpus / "blockdev" / name
    data = path.read_bytes()
    exp = EXPECTED[name]
    parser = _parser_for(name)
    if isinstance(exp, str):
        with pytest.raises(ParseError) as exc:
            parser(data, source=str(path))
        assert exp in str(exc.value) and name in str(exc.value)
        return
    result = parser(data, source=str(path))
    if name.startswith("lsblk"):
        _check_tree(result, exp)
    elif name.startswith("blkid"):
        _check_probes(result, exp)
    else:
        _check_mounts(result, exp)
