"""The plugin's own recordings of real drbd-utils 9.22.0 (tests/recordings/drbdadm, made by record_host.py).

Every ``dump_*`` recording goes through ``parse_config``; the expectations come from the configs under
recordings/configs that produced them. ``sh-*`` recordings feed the small line parsers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pybofh_drbd import parsers

REC = Path(__file__).resolve().parent / "recordings" / "drbdadm"

# recording -> {resource: (this-host volumes [(nr, minor, disk, meta)], ports, [(host, node_id, address)])}
DUMPS = {
    "dump_r0-v9-9.22.0.txt": {
        "r0": ([(0, 7, "/dev/loop0", "internal")], [7789],
               [("vm", 0, "ipv4 192.0.2.1:7789"), ("peer", 1, "ipv4 192.0.2.2:7789")])},
    "dump_r0-v84-9.22.0.txt": {
        "r0": ([(0, 7, "/dev/loop0", "internal")], [7789],
               [("vm", None, "ipv4 192.0.2.1:7789"), ("peer", None, "ipv4 192.0.2.2:7789")])},
    "dump_multi-v9-9.22.0.txt": {
        "r0": ([(0, 0, "/dev/vg0/r0", "internal")], [7788],
               [("vm", 0, "ipv4 192.0.2.1:7788"), ("peer", 1, "ipv4 192.0.2.2:7788")]),
        "r1": ([(0, 1, "/dev/vg0/r1a", "internal"), (1, 2, "/dev/vg0/r1b", "internal")], [7790],
               [("vm", 0, "ipv6 [2001:db8::1]:7790"), ("peer", 1, "ipv6 [2001:db8::2]:7790")]),
        "r2": ([(0, 4, "/dev/vg0/r2", "/dev/vg0/meta[0]")], [7789], [("vm", 0, None), ("peer", 1, None)]),
    },
}


def test_every_dump_recording_has_an_expectation() -> None:
    """Adding a dump recording means adding its expectation here."""
    assert {p.name for p in REC.glob("dump_*")} == set(DUMPS)


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_dump_recording(name: str) -> None:
    """A real ``drbdadm dump`` (9 and 8.4 layouts) parses to the resources of the config that produced it."""
    cfg = parsers.parse_config((REC / name).read_bytes(), source=name)
    exp = DUMPS[name]
    assert cfg.names == list(exp)
    for r in cfg.resources:
        volumes, ports, hosts = exp[r.name]  # type: ignore[index]
        assert r.this_host == "vm"  # the recording host's name, from the '# resource X on HOST' header
        assert [(v.number, v.minor, v.disk, v.meta_disk) for v in r.volumes_for()] == volumes
        assert r.ports == ports
        assert [(h.name, h.node_id, str(h.address) if h.address else None) for h in r.hosts] == hosts


def test_multi_dump_free_minor_and_port() -> None:
    """Minors 0, 1, 2, 4 and ports 7788-7790 are used: the next free are 3 and 7791 (from 7788)."""
    cfg = parsers.parse_config((REC / "dump_multi-v9-9.22.0.txt").read_bytes())
    assert cfg.minors == [0, 1, 2, 4]
    assert cfg.next_free_minor() == 3
    assert cfg.next_free_minor(5) == 5
    assert cfg.ports == [7788, 7789, 7790]
    assert cfg.next_free_port() == 7791
    assert cfg.resource("r2") is not None and cfg.resource("r2").connections[0].hosts[0].name == "vm"  # type: ignore[union-attr]


def test_sh_recordings() -> None:
    """``sh-resources``/``sh-minor``/``sh-ll-dev`` print one item per line."""
    assert parsers.parse_sh_words((REC / "sh-resources_multi-9.22.0.txt").read_bytes()) == ["r0", "r1", "r2"]
    assert parsers.parse_sh_words((REC / "sh-minor_r1-9.22.0.txt").read_bytes()) == ["1", "2"]
    assert parsers.parse_lines((REC / "sh-ll-dev_r1-9.22.0.txt").read_bytes()) == ["/dev/vg0/r1a", "/dev/vg0/r1b"]
