"""Every Xen sample of the shared corpus through the pure parsers: a typed result with its key fields checked, or
the typed ParseError naming the file. The corpus is read in place (``corpus`` fixture), never copied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_core.errors import ParseError
from pybofh_xen.parsers import (
    parse_libxl_domain_config,
    parse_xl_info,
    parse_xl_list,
    parse_xl_list_long,
    parse_xl_uptime,
)
from pybofh_xen.types import MIB, DomainStatus
from pybofh_xen.xlcfg import parse_domu_config

# file name -> expected key fields. A disk is (vdev, host path, format, access, devtype); a vif is (mac, bridge).
CFG: dict[str, dict[str, Any]] = {
    "xlcfg_libvirt_test-new-disk.cfg": dict(
        name="XenGuest2", type="hvm", memory=394, vcpus=1,
        disks=[("hda", "/dev/HostVG/XenGuest2", "raw", "rw", "disk"),
               ("hdb", "/var/lib/libvirt/images/XenGuest2-home", "qcow2", "rw", "disk"),
               ("hdc", "/root/boot.iso", "raw", "ro", "cdrom")],
        vifs=[("00:16:3e:66:92:9c", "xenbr1")]),
    "xlcfg_libvirt_test-paravirt-cmdline.cfg": dict(
        name="XenGuest2", type="pv", memory=394, vcpus=1,
        disks=[("xvda", "/dev/HostVG/XenGuest2", "raw", "rw", "disk")], vifs=[("00:16:3e:66:92:9c", "xenbr1")]),
    "xlcfg_libvirt_test-pvh-type.cfg": dict(name="XenGuest2", type="pvh", memory=394, vcpus=1, disks=[], vifs=[]),
    "xlcfg_real_hvm_cdrom_no-final-newline_ubuhvm.cfg": dict(
        name="ubuhvm", type="hvm", memory=1024, vcpus=2,
        disks=[("xvda", "/dev/vg/ubuntu", "raw", "rw", "disk"),
               ("xvdc", "/mnt/xen/iso/ubuntu.iso", "raw", "ro", "cdrom")],
        vifs=[(None, None)]),
    "xlcfg_real_hvm_drakvuf_xen-devel-ml.cfg": dict(
        name="vm-0", type="hvm", memory=3048, vcpus=2,
        disks=[("xvda", "/var/lib/drakrun/volumes/vm-0.img", "qcow2", "rw", "disk"),
               ("hdc", "/opt/win7/SW_DVD5_Win_Pro_7w_SP1_64BIT_Polish_-2_MLF_X17-59386.ISO", "raw", "ro", "cdrom"),
               ("hdd", "/var/lib/drakrun/volumes/unattended.iso", "raw", "ro", "cdrom")],
        vifs=[(None, "drak0")]),
    "xlcfg_real_hvm_windows_hda.cfg": dict(
        name="windows", type="hvm", memory=1024, vcpus=2,
        disks=[("hda", "/dev/vg/windows", "raw", "rw", "disk"), ("hdc", "/mnt/xen/iso/win.iso", "raw", "ro", "cdrom")],
        vifs=[(None, None)]),
    "xlcfg_real_pv_netboot_openvswitch.cfg": dict(
        name="ubuntu", type="pv", memory=1024, vcpus=2, disks=[("xvda", "/dev/vg/ubuntu", "raw", "rw", "disk")],
        vifs=[(None, "ovsbr0")]),
    "xlcfg_real_pv_pygrub_two-disks_pegas.cfg": dict(
        name="pegas", type="pv", memory=2048, vcpus=8,
        disks=[("xvda", "/dev/vg/pegas-disk", "raw", "rw", "disk"),
               ("xvdb", "/dev/vg/pegas-swap", "raw", "rw", "disk")],
        vifs=[(None, "xenbr0")]),
    "xlcfg_real_xen-tools-generated_krs23.cfg": dict(
        name="krs23.ru", type="pv", memory=1024, vcpus=4,
        disks=[("xvda2", "/dev/vg/krs23.ru-disk", "raw", "rw", "disk"),
               ("xvda1", "/dev/vg/krs23.ru-swap", "raw", "rw", "disk"),
               ("xvda3", "/dev/vg/krs23.ru-home", "raw", "rw", "disk")],
        vifs=[("00:16:3e:76:47:d4", "xenbr0")]),
    "xlcfg_xlexample.hvm.cfg": dict(
        name="example.hvm", type="hvm", memory=128, vcpus=2,
        disks=[("xvda", "/dev/vg/guest-volume", "raw", "rw", "disk")], vifs=[(None, None)]),
    "xlcfg_xlexample.pvhlinux.cfg": dict(
        name="example.pvhlinux", type="pvh", memory=512, vcpus=4,
        disks=[("xvda", "/dev/zvol/tank/guest-volume", "raw", "rw", "disk")], vifs=[(None, None)]),
    "xlcfg_xlexample.pvlinux.cfg": dict(
        name="example.pvlinux", type="pv", memory=128, vcpus=2,
        disks=[("xvda", "/dev/vg/guest-volume", "raw", "rw", "disk")], vifs=[(None, None)]),
    "xmcfg_libvirt_test-escape-paths.cfg": dict(
        name="XenGuest2&test", type="hvm", memory=394, vcpus=1,
        disks=[("hda", "/dev/HostVG/XenGuest2", "raw", "rw", "disk"),
               ("hdc", "/root/boot.iso&test", "raw", "ro", "cdrom")],
        vifs=[("00:16:3e:66:92:9c", "xenbr1")]),
    "xmcfg_libvirt_test-paravirt-new-pvfb.cfg": dict(
        name="XenGuest1", type="pv", memory=394, vcpus=1,
        disks=[("xvda", "/dev/HostVG/XenGuest1", "raw", "rw", "disk")],
        vifs=[("00:16:3e:66:94:9c", "br0")]),
    "xmcfg_xen-upstream_xmexample.hvm.cfg": dict(
        name="ExampleHVMDomain", type="hvm", memory=128, vcpus=None,
        disks=[("hda", "/var/images/min-el3-i386.img", "raw", "rw", "disk"), ("hdc", None, "empty", "ro", "cdrom")],
        vifs=[(None, "xenbr0")]),
    "xmcfg_xen-upstream_xmexample1.cfg": dict(
        name="ExampleDomain", type="pv", memory=64, vcpus=None, disks=[("hda1", "/dev/hda1", "raw", "rw", "disk")],
        vifs=[(None, None)]),
}
CFG_ERRORS = {"xmcfg_xen-upstream_xmexample2.cfg": 23}  # `def vmid_check(var, val):` — real Python code

INFO = {
    "xl_info_xen-4.0.1_ganeti.txt": dict(
        host="host.example.com", version="4.0.1", cpus=4, nodes=1, total=16378, free=8004, sched="credit",
        caps=("xen-3.0-x86_64", "xen-3.0-x86_32p"), virt=(), changeset="unavailable",
        cmdline="placeholder dom0_mem=1024M com1=115200,8n1 console=com1"),
    "xl_info_xen-4.13.0_aarch64_rpi4_xen-devel-ml.txt": dict(
        host="raspberrypi4-64-xen", version="4.13.0", cpus=4, nodes=1, total=3956, free=3634, sched="credit2",
        caps=("xen-3.0-aarch64", "xen-3.0-armv7l"), virt=("hvm", "hap"),
        changeset="Tue Dec 17 14:19:49 2019 +0000 git:a2e84d8e42-dirty",
        cmdline="console=dtuart dtuart=/soc/serial@7e215040 sync_console dom0_mem=256M bootscrub=0"),
    "xl_info_xen-4.14.0_qubes_dom0-pvh_xen-devel-ml.txt": dict(
        host="dom0", version="4.14.0", cpus=16, nodes=2, total=163805, free=11077, sched="credit2",
        caps=("xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"),
        virt=("pv", "hvm", "hvm_directio", "pv_directio", "hap"), changeset="",
        cmdline=("placeholder console=com2 dom0_mem=min:1024M dom0_mem=max:8192M iommu=no-igfx ucode=scan smt=off "
                 "gnttab_max_frames=2048 gnttab_max_maptrack_frames=4096 loglvl=all guest_loglvl=all dom0=pvh")),
    "xl_info_xen-4.15-unstable_xen-devel-ml.txt": dict(
        host="zen2", version="4.15-unstable", cpus=4, nodes=1, total=16292, free=4687, sched="credit2",
        caps=("xen-3.0-x86_64", "xen-3.0-x86_32p", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"),
        virt=("pv", "hvm", "hvm_directio", "pv_directio", "hap", "shadow", "iommu_hap_pt_share"), changeset="",
        cmdline=("placeholder dom0_mem=8192M,max:8192M dom0_max_vcpus=4 dom0_vcpus_pin=1 force-ept=1 ept=pml=0 "
                 "hap_1gb=0 hap_2mb=0 altp2m=1 smt=0")),
}

LIST = {  # (name, id, MiB, vcpus, state, status)
    "xl_list_xen-4.0.1_dom0-only.txt": [("Domain-0", 0, 1023, 1, "r-----", DomainStatus.RUNNING)],
    "xl_list_xen-4.0.1_four-instances.txt": [
        ("Domain-0", 0, 1023, 1, "r-----", DomainStatus.RUNNING),
        ("server01.example.com", 1, 1024, 1, "-b----", DomainStatus.BLOCKED),
        ("web3106215069.example.com", 3, 4096, 1, "-b----", DomainStatus.BLOCKED),
        ("testinstance.example.com", 2, 2048, 2, "r-----", DomainStatus.RUNNING)],
    "xl_list_xen-4.17_armhf_real-tabs-in-header_xen-devel-ml.txt": [
        ("Domain-0", 0, 768, 2, "r-----", DomainStatus.RUNNING),
        ("freebsd", 1, 1152, 1, "r-----", DomainStatus.RUNNING)],
    "xl_list_xen-4.4_crashed-instances.txt": [
        ("Domain-0", 0, 1023, 1, "r-----", DomainStatus.RUNNING),
        ("server01.example.com", 1, 1024, 1, "-b----", DomainStatus.BLOCKED),
        ("(null)", 28441, 789, 1, "--psc-", DomainStatus.CRASHED),
        ("alsodying.example.com", 28448, 1024, 1, "--psc-", DomainStatus.CRASHED)],
}

LIBXL_JSON = {  # NOT xl list -l output: libvirt's libxl_domain_config JSON (the schema of its "config" member)
    "libxl-domain-config-json_NOT-xl-list-output_basic-hvm_libvirt-tests.json": dict(
        name="test-hvm", type="hvm", uuid="2147d599-9cc6-c0dc-92ab-4064b5446e9b", memkb=1048576, vcpus=4,
        disks=[("hda", "/var/lib/xen/images/test-hvm.img", "raw", "rw", "disk")], vifs=[("00:16:3e:66:12:b4", "br0")]),
    "libxl-domain-config-json_NOT-xl-list-output_basic-pv_libvirt-tests.json": dict(
        name="test-pv", type="pv", uuid="039e9ee6-4a84-3055-4c81-8ba426ae2656", memkb=524288, vcpus=4,
        disks=[("xvda", "/var/lib/xen/images/test-pv.img", "raw", "rw", "disk")], vifs=[("00:16:3e:3e:86:60", "br0")]),
}

ALL = {*CFG, *CFG_ERRORS, *INFO, *LIST, *LIBXL_JSON, "xl_list_long_sxp_xen-4.0.1.txt", "xl_uptime_xen-4.0.1.txt"}


def _disks(disks: Any) -> list[tuple[Any, ...]]:
    return [(d.vdev, d.path, d.format, d.access.value, d.devtype) for d in disks]


def _vifs(vifs: Any) -> list[tuple[Any, ...]]:
    return [(v.mac, v.bridge) for v in vifs]


def test_every_corpus_file_has_an_expectation(corpus: Path) -> None:
    """A sample added to the corpus without an expectation here fails, so none is silently left untested."""
    assert sorted(p.name for p in (corpus / "xen").iterdir()) == sorted(ALL)


@pytest.mark.parametrize("name", sorted(CFG))
def test_xl_configs_parse(corpus: Path, name: str) -> None:
    exp = CFG[name]
    domu = parse_domu_config((corpus / "xen" / name).read_bytes(), path=corpus / "xen" / name)
    assert (domu.name, domu.guest_type, domu.vcpus) == (exp["name"], exp["type"], exp["vcpus"])
    assert domu.memory_bytes == exp["memory"] * MIB
    assert _disks(domu.disks) == exp["disks"]
    assert _vifs(domu.vifs) == exp["vifs"]
    assert domu.config_path == corpus / "xen" / name


@pytest.mark.parametrize("name", sorted(CFG_ERRORS))
def test_python_xm_configs_give_a_typed_error_naming_the_line(corpus: Path, name: str) -> None:
    path = corpus / "xen" / name
    with pytest.raises(ParseError) as err:
        parse_domu_config(path.read_bytes(), path=path)
    assert f"line {CFG_ERRORS[name]}:" in str(err.value)
    assert "Python" in str(err.value)
    assert err.value.source == str(path)


@pytest.mark.parametrize("name", sorted(INFO))
def test_xl_info(corpus: Path, name: str) -> None:
    exp = INFO[name]
    info = parse_xl_info((corpus / "xen" / name).read_bytes(), source=name)
    assert (info.host, info.xen_version, info.nr_cpus, info.nr_nodes) == (
        exp["host"], exp["version"], exp["cpus"], exp["nodes"])
    assert (info.total_memory_bytes, info.free_memory_bytes) == (exp["total"] * MIB, exp["free"] * MIB)
    assert (info.xen_scheduler, info.xen_caps, info.virt_caps) == (exp["sched"], exp["caps"], exp["virt"])
    assert info.fields["xen_changeset"] == exp["changeset"]
    assert info.xen_commandline == exp["cmdline"]


@pytest.mark.parametrize("name", sorted(LIST))
def test_xl_list(corpus: Path, name: str) -> None:
    rows = parse_xl_list((corpus / "xen" / name).read_bytes(), source=name)
    got = [(d.name, d.domid, d.memory_bytes // MIB, d.vcpus, d.state, d.status) for d in rows]
    assert got == LIST[name]
    assert all(d.memory_bytes % MIB == 0 and d.cpu_time > 0 for d in rows)


def test_xl_list_long_sxp(corpus: Path) -> None:
    doms = parse_xl_list_long((corpus / "xen" / "xl_list_long_sxp_xen-4.0.1.txt").read_bytes())
    assert [(d.domid, d.name, d.memory_bytes, d.vcpus, d.state, d.guest_type) for d in doms] == [
        (0, "Domain-0", 1023 * MIB, 24, "r-----", "pv"),
        (119, "instance1.example.com", 128 * MIB, 1, "-b----", "pv"),
    ]
    assert doms[1].uuid == "e430b4b8-dc91-9390-dfe0-b83c138ea0aa"
    assert _disks(doms[1].disks) == [
        ("sda", "/var/run/ganeti/instance-disks/instance1.example.com:0", "raw", "rw", "disk")]
    assert _vifs(doms[1].vifs) == [("aa:00:00:30:8d:9d", "xen-br0")]
    assert doms[0].disks == () and doms[0].vifs == ()


def test_xl_uptime(corpus: Path) -> None:
    rows = parse_xl_uptime((corpus / "xen" / "xl_uptime_xen-4.0.1.txt").read_bytes())
    assert [(r.name, r.domid, r.seconds) for r in rows] == [
        ("Domain-0", 0, 98 * 86400 + 2 * 3600 + 27 * 60 + 44),
        ("instance1.example.com", 119, 15 * 86400 + 20 * 3600 + 57 * 60 + 7),
    ]


@pytest.mark.parametrize("name", sorted(LIBXL_JSON))
def test_libxl_config_json(corpus: Path, name: str) -> None:
    exp = LIBXL_JSON[name]
    data = (corpus / "xen" / name).read_bytes()
    d = parse_libxl_domain_config(data, source=name)
    assert (d.name, d.guest_type, d.uuid, d.vcpus) == (exp["name"], exp["type"], exp["uuid"], exp["vcpus"])
    assert d.memory_bytes == exp["memkb"] * 1024
    assert _disks(d.disks) == exp["disks"]
    assert _vifs(d.vifs) == exp["vifs"]
    # A bare config object is not what `xl list -l` prints: that parser refuses it with a typed error naming the file.
    with pytest.raises(ParseError) as err:
        parse_xl_list_long(data, source=name)
    assert name in str(err.value)


@pytest.mark.parametrize("name", sorted(ALL - set(CFG) - set(CFG_ERRORS) - set(LIBXL_JSON)))
def test_command_outputs_are_not_mistaken_for_another_command(corpus: Path, name: str) -> None:
    """Each parser refuses another command's output with its typed error (never a half result)."""
    data = (corpus / "xen" / name).read_bytes()
    parsers = {"xl_info": parse_xl_info, "xl_list_long": parse_xl_list_long, "xl_list": parse_xl_list,
               "xl_uptime": parse_xl_uptime}
    own = next(k for k in sorted(parsers, key=len, reverse=True) if name.startswith(k))
    for key, parser in parsers.items():
        if key == own:
            continue
        with pytest.raises(ParseError):
            parser(data, source=name)
