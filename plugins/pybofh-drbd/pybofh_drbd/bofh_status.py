"""pybofh-drbd's part of ``bofh status``: every DRBD resource that is up, with its role, disk and peers' states.

``/proc/drbd`` says whether the module is loaded and which version runs. DRBD 9: one ``drbdsetup status --json``
lists every resource. DRBD 8.x: ``/proc/drbd`` holds the minors' states, and one ``drbdadm dump`` names their
resources (a configuration that cannot be read leaves the names out, not the states).
"""

from __future__ import annotations

from typing import Any

from pybofh_core.errors import PybofhError
from pybofh_core.runner import run
from pybofh_core.status import StatusSection, section

from . import parsers
from .types import DrbdResource, ProcDrbd


def _joined(values: list[str]) -> str | None:
    """Distinct values in order, comma-separated (one value for a resource whose volumes agree)."""
    return ",".join(dict.fromkeys(values)) or None


def resource_row(res: DrbdResource) -> dict[str, Any]:
    """One resource's line: its role, minors, local disk states, each peer's role, connection and disk states, and
    the least-synced peer volume's percentage."""
    return {
        "resource": res.name or None,
        "role": res.role.value,
        "minors": res.minors,
        "disk": _joined([v.disk.value for v in res.volumes]),
        "peer_role": _joined([c.peer_role.value for c in res.connections]),
        "connection": _joined([c.state.value for c in res.connections]),
        "peer_disk": _joined([pv.peer_disk.value for c in res.connections for pv in c.volumes]),
        "sync_percent": res.sync_percent,
        "peers": [c.name for c in res.connections if c.name],
    }


def resources_84(proc: ProcDrbd) -> list[DrbdResource]:
    """The configured minors of DRBD 8.x as resources, named from ``drbdadm dump`` where it can be read."""
    from .facts import merge_volumes, read_config

    names: dict[int, str] = {}
    try:
        for res in read_config().resources:
            for vol in res.volumes_for(res.this_host):
                if vol.minor is not None and res.name:
                    names[vol.minor] = res.name
    except PybofhError:
        pass  # states without names still say what runs
    grouped: dict[str, list[DrbdResource]] = {}
    for dev in proc.devices:
        if dev.configured:
            name = names.get(dev.minor, "")
            grouped.setdefault(name or f"minor {dev.minor}", []).append(parsers.resource_from_proc(dev, name))
    return [parts[0] if len(parts) == 1 else merge_volumes(parts[0].name, parts) for parts in grouped.values()]


def resource_rows() -> list[dict[str, Any]]:
    """One row per resource that is up; DrbdUnavailableError (unavailable) when the module is not loaded."""
    from .facts import read_proc_drbd

    proc = read_proc_drbd()
    if proc.major is not None and proc.major >= 9:
        argv = ["drbdsetup", "status", "--json"]
        resources = parsers.parse_status_json(run(argv, readonly=True).stdout, source=" ".join(argv))
    else:
        resources = resources_84(proc)
    return [resource_row(r) for r in resources]


def sections() -> list[StatusSection]:
    """The DRBD resources that are up."""
    return [section("drbd", "DRBD resources", resource_rows, order=60, headers={"sync_percent": "sync%"},
                    columns=("resource", "role", "minors", "disk", "peer_role", "connection", "peer_disk",
                             "sync_percent"))]
