"""Real outputs of xl 4.17.7 recorded in a nested Xen (Debian's hypervisor + Debian dom0 under qemu TCG) by
tests/xen_vm/boot_xen.py: every recording through its parser, key fields checked."""

from __future__ import annotations

from pathlib import Path

from pybofh_core.testing import Recordings
from pybofh_xen.parsers import parse_xl_info, parse_xl_list, parse_xl_list_long, parse_xl_uptime
from pybofh_xen.types import MIB, DomainStatus

REC = Recordings(Path(__file__).resolve().parent / "recordings")


def test_every_recording_is_checked() -> None:
    names = {r.stdout_path.name for r in REC.all("xl-nested") if r.version == "4.17.7"}
    assert names == {"info-4.17.7.txt", "list-dom0-4.17.7.txt", "list-long-dom0-4.17.7.txt",
                     "create-tiny-4.17.7.txt", "list-tiny-4.17.7.txt", "list-long-tiny-4.17.7.txt",
                     "uptime-4.17.7.txt", "destroy-tiny-4.17.7.txt", "list-long-two-4.17.7.txt"}


def test_xl_info_4_17() -> None:
    info = parse_xl_info(REC.output("xl-nested", "info-4.17.7.txt"))
    assert (info.host, info.xen_version, info.nr_cpus, info.nr_nodes) == ("pybofh-vm", "4.17.7", 1, 1)
    assert (info.total_memory_bytes, info.free_memory_bytes) == (2047 * MIB, 1000 * MIB)
    assert info.xen_caps == ("xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64")
    assert info.virt_caps == ("pv", "hvm", "gnttab-v1", "gnttab-v2")
    assert info.fields["xen_changeset"] == ""
    assert info.xen_commandline is not None and info.xen_commandline.startswith("console=com1 com1=115200,8n1")


def test_xl_list_before_during_after_the_domu() -> None:
    rows = [(d.name, d.domid, d.memory_bytes // MIB, d.vcpus, d.status)
            for d in parse_xl_list(REC.output("xl-nested", "list-tiny-4.17.7.txt"))]
    assert rows == [("Domain-0", 0, 1024, 1, DomainStatus.RUNNING), ("tiny", 1, 96, 1, DomainStatus.BLOCKED)]
    for name in ("list-dom0-4.17.7.txt", "destroy-tiny-4.17.7.txt"):
        assert [d.name for d in parse_xl_list(REC.output("xl-nested", name))] == ["Domain-0"]


def test_xl_list_long_json_4_17() -> None:
    """xl prints ``[`` blank ``]`` (and an error on stderr, exit 0) when only dom0 exists: no domains."""
    assert parse_xl_list_long(REC.output("xl-nested", "list-long-dom0-4.17.7.txt")) == []
    (tiny,) = parse_xl_list_long(REC.output("xl-nested", "list-long-tiny-4.17.7.txt"))
    assert (tiny.domid, tiny.name, tiny.guest_type, tiny.vcpus) == (1, "tiny", "pv", 1)
    assert tiny.uuid == "7d4cdd96-33c2-46c9-bcd4-b8a49ff3c04c"
    assert tiny.memory_bytes == 98304 * 1024
    assert tiny.disks == () and tiny.vifs == ()


def test_xl_list_long_json_of_two_domus_and_dom0() -> None:
    """Two tiny domUs; dom0 set up by ``xen-init-dom0`` (as Debian's xencommons does) is listed too, with a config
    that has no UUID and its memory only as ``target_memkb``, and nothing on stderr."""
    rec = REC.get("xl-nested", "list-long-two", "4.17.7")
    assert rec.returncode == 0 and rec.stderr == b""
    rows = parse_xl_list_long(rec.stdout)
    assert [(d.domid, d.name, d.guest_type) for d in rows] == [(0, "Domain-0", "pv"), (2, "alpha", "pv"),
                                                                (3, "beta", "pv")]
    dom0, alpha, beta = rows
    assert dom0.uuid is None and dom0.vcpus is None and dom0.memory_bytes == 1048575 * 1024
    assert alpha.uuid == "a02976e8-0a8a-43aa-a124-6cb2d810ecd1"
    assert beta.uuid == "50378bd9-8d8c-4b30-a94e-80ae6939e591"
    for domu in (alpha, beta):
        assert (domu.memory_bytes, domu.vcpus, domu.disks, domu.vifs) == (96 * MIB, 1, (), ())


def test_xl_uptime_4_17() -> None:
    rows = parse_xl_uptime(REC.output("xl-nested", "uptime-4.17.7.txt"))
    assert [(r.name, r.domid, r.seconds) for r in rows] == [("Domain-0", 0, 19), ("tiny", 1, 10)]


def test_create_prints_only_to_stderr() -> None:
    create = REC.get("xl-nested", "create-tiny", "4.17.7")
    assert create.stdout == b"" and create.returncode == 0
    assert create.stderr.decode() == "Parsing config from /etc/xen/tiny.cfg\n"
