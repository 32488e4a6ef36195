"""The xl.cfg grammar, disk specs and vif specs.

Inputs here are config text written for the test (configs are the user's input, not tool output); the disk-spec
equivalences are the examples of Xen's docs/misc/xl-disk-configuration.txt.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pybofh_core.errors import ParseError
from pybofh_xen.parsers import parse_xl_list, parse_xl_list_long
from pybofh_xen.types import DiskAccess
from pybofh_xen.xlcfg import parse_disk_spec, parse_domu_config, parse_vif_spec, parse_xl_config


def test_grammar_statements_quotes_numbers_lists() -> None:
    text = (
        "name='a'; memory = 512\n"
        'extra="root=/dev/xvda1 \\"q\\" \\x41\\t"\n'
        "cpus = 0x1f\n"
        "empty = []\n"
        "disk = [ # comment inside a list\n"
        "   'x,raw,xvda,rw',\n"
        "\n"
        '   "y,raw,xvdb,ro",   # trailing comma\n'
        "]\n"
        "vnuma = [ [ 'pnode=0', 'size=512' ], [ 'pnode=1' ] ]\n"
        "name = 'last-wins'"  # no final newline
    )
    cfg = parse_xl_config(text, source="t.cfg")
    assert cfg.values["name"] == "last-wins"
    assert cfg.lines["name"] == 11
    assert cfg.values["memory"] == "512"
    assert cfg.values["extra"] == 'root=/dev/xvda1 "q" A\t'
    assert cfg.values["cpus"] == "0x1f"
    assert cfg.values["empty"] == ()
    assert cfg.values["disk"] == ("x,raw,xvda,rw", "y,raw,xvdb,ro")
    assert cfg.values["vnuma"] == (("pnode=0", "size=512"), ("pnode=1",))
    assert cfg.source == "t.cfg"


def test_plus_equals_appends_strings_and_lists() -> None:
    cfg = parse_xl_config("extra = 'a'\nextra += ' b'\ndisk = ['x']\ndisk += ['y']\nnew += 'z'\n")
    assert cfg.values == {"extra": "a b", "disk": ("x", "y"), "new": "z"}
    with pytest.raises(ParseError, match="line 2: can't add"):
        parse_xl_config("disk = ['x']\ndisk += 'y'\n")


@pytest.mark.parametrize(
    ("text", "line", "python"),
    [
        ("name = 'a'\nMemory = 1\n", 2, False),  # xl keys are lower case
        ("name = 'a'\nmemory 1\n", 2, False),
        ("name = 'a'\nname = 'unterminated\n", 2, False),
        ("name = 'a' 'b'\n", 1, False),
        ("name = \"VM%d\" % vmid\n", 1, True),
        ("import os\n", 1, True),
        ("memory = 64\nvcpus = -1\n", 2, True),
        ("disk = [ 'phy:sda%d,sda1,w' % (7+vmid) ]\n", 1, True),
        ("bad = '\\q'\n", 1, False),
    ],
)
def test_grammar_errors_name_the_line(text: str, line: int, python: bool) -> None:
    with pytest.raises(ParseError) as err:
        parse_xl_config(text, source="/etc/xen/bad.cfg")
    assert f"line {line}:" in str(err.value)
    assert ("Python" in str(err.value)) is python
    assert err.value.source == "/etc/xen/bad.cfg"


def test_domu_needs_a_name_and_list_valued_disks() -> None:
    with pytest.raises(ParseError, match="no name"):
        parse_domu_config("memory = 1\n")
    with pytest.raises(ParseError, match="must be a \\[list\\]"):
        parse_domu_config("name = 'a'\ndisk = 'phy:/dev/x,xvda,w'\n")
    with pytest.raises(ParseError, match="not an integer"):
        parse_domu_config("name = 'a'\nmemory = 'lots'\n")
    with pytest.raises(ParseError, match="unknown type"):
        parse_domu_config("name = 'a'\ntype = 'pvhvm'\n")
    d = parse_domu_config("name = 'a'\nmemory = '0x10'\nvcpus = '010'\n", path="/etc/xen/a.cfg")
    assert (d.memory_bytes, d.vcpus, str(d), str(d.config_path)) == (16 * 1024 * 1024, 8, "a", "/etc/xen/a.cfg")


DOC_DISK = [
    "/dev/vg/guest-volume,,hda",
    "/dev/vg/guest-volume,raw,hda,rw",
    "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
    "raw:/dev/vg/guest-volume,hda,w",
]
DOC_CDROM = [
    "/root/image.iso,,hdc,cdrom",
    "/root/image.iso,,hdc,,cdrom",
    "/root/image.iso,raw,hdc,devtype=cdrom",
    "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
    "raw:/root/image.iso,hdc:cdrom,ro",
]


@pytest.mark.parametrize("spec", DOC_DISK)
def test_documented_equivalent_disk_specs(spec: str) -> None:
    d = parse_disk_spec(spec)
    assert (d.vdev, d.path, d.format, d.access, d.devtype) == ("hda", "/dev/vg/guest-volume", "raw", DiskAccess.RW,
                                                               "disk")


@pytest.mark.parametrize("spec", DOC_CDROM)
def test_documented_equivalent_cdrom_specs(spec: str) -> None:
    d = parse_disk_spec(spec)
    assert (d.vdev, d.path, d.format, d.access, d.is_cdrom) == ("hdc", "/root/image.iso", "raw", DiskAccess.RO, True)


def test_disk_spec_special_forms() -> None:
    d = parse_disk_spec("vdev=xvda, access=rw, target=/srv/odd,name:with,commas")
    assert (d.vdev, d.path) == ("xvda", "/srv/odd,name:with,commas")
    d = parse_disk_spec("drbd:r0,xvda,w")
    assert (d.script, d.path, d.target, d.prefixes) == ("block-drbd", None, "r0", ("drbd",))
    d = parse_disk_spec("tap:aio:/img/a.raw,xvdb,r")
    assert (d.prefixes, d.path, d.access) == (("tap", "aio"), "/img/a.raw", DiskAccess.RO)
    d = parse_disk_spec(",hdc:cdrom,r")
    assert (d.target, d.path, d.format, d.is_cdrom) == (None, None, "empty", True)
    d = parse_disk_spec("/dev/vg/a,raw,xvda,rw,discard,backendtype=phy,specification=xen")
    assert (d.backendtype, d.options) == ("phy", {"discard": "", "specification": "xen"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/a,raw,xvda,rw,extra", "too many positional"),
        ("/a,foo,xvda", "unknown format"),
        ("/a", "no virtual device"),
        ("/a,raw,xvda,x", "unknown access"),
        ("foo:/bar,xvda,w", "unknown deprecated prefix"),
        ("/a,raw,xvda:floppy,w", "unknown device type"),
        ("/a,raw,xvda,w,backendtype=nope", "unknown backendtype"),
        ("/a,raw,xvda,w,target=/b", "target given twice"),
    ],
)
def test_bad_disk_specs(spec: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_disk_spec(spec, source="x.cfg")


def test_vif_specs() -> None:
    v = parse_vif_spec("mac=00:16:3E:76:47:D4, bridge=xenbr0,ip=10.0.0.1")
    assert (v.mac, v.bridge, v.options["ip"]) == ("00:16:3e:76:47:d4", "xenbr0", "10.0.0.1")
    assert parse_vif_spec("").options == {}
    with pytest.raises(ParseError, match="not key=value"):
        parse_vif_spec("bridge=xenbr0,e1000")
    with pytest.raises(ParseError, match="bad MAC"):
        parse_vif_spec("mac=00:16:3e:66")


def test_xl_list_refuses_empty_output_and_other_columns() -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_xl_list(b"")
    with pytest.raises(ParseError, match="header"):
        parse_xl_list("Name ID Mem VCPUs State Time(s) Security Label\n")


def test_xl_list_long_json_from_libxl_configs(corpus: Path) -> None:
    """The JSON list form, built here (not recorded: no public verbatim sample exists) by wrapping two real libxl
    domain configs from the corpus in ``[{"domid": N, "config": ...}]`` as xl's printer does."""
    xen = corpus / "xen"
    configs = [json.loads(p.read_text()) for p in sorted(xen.glob("libxl-domain-config-json_*"))]
    text = json.dumps([{"domid": i + 1, "config": c} for i, c in enumerate(configs)], indent=4)
    doms = parse_xl_list_long(text)
    assert [(d.domid, d.name, d.guest_type) for d in doms] == [(1, "test-hvm", "hvm"), (2, "test-pv", "pv")]
    assert parse_xl_list_long("") == []


def test_xl_list_long_refuses_duplicate_json_keys() -> None:
    """Hand-written input (not tool output) exercising the duplicate-key check: a second "name" must not hide the
    first one silently."""
    text = '[{"domid": 1, "config": {"c_info": {"name": "a", "name": "b"}}}]'
    with pytest.raises(ParseError, match="duplicate JSON key 'name'"):
        parse_xl_list_long(text, source="xl list -l")
    with pytest.raises(ParseError, match="not"):
        parse_xl_list_long('[{"config": {}}]')
    with pytest.raises(ParseError, match="unbalanced"):
        parse_xl_list_long("(domain (domid 1) (name a)")
