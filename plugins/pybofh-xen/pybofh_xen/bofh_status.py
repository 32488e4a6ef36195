"""pybofh-xen's part of ``bofh status``: the domUs running now, from one ``xl list``.

Configured but stopped domUs are left out: their config files would be read on this machine, which is wrong under
``--host`` (``bofh xen list`` shows them).
"""

from __future__ import annotations

from typing import Any

from pybofh_core.status import StatusSection, section


def domu_rows() -> list[dict[str, Any]]:
    """One row per running domain but Domain-0: id, state, memory in bytes, vCPUs and CPU seconds used."""
    from .facts import list_domains

    return [{"name": d.name, "id": d.domid, "status": d.status.value, "state": d.state, "memory": d.memory_bytes,
             "vcpus": d.vcpus, "cpu_seconds": d.cpu_time} for d in list_domains() if d.domid != 0]


def sections() -> list[StatusSection]:
    """The running domUs (unavailable where xl is missing or this is no Xen dom0)."""
    return [section("domus", "Xen domUs", domu_rows, order=70, sizes=("memory",),
                    columns=("name", "id", "status", "memory", "vcpus", "cpu_seconds"),
                    headers={"cpu_seconds": "cpu(s)"})]
