"""Readers of DRBD state: each runs one read-only command through the core runner and hands it to a pure parser.

In a dry run ``status``/``is_up`` and ``device_size`` answer with the planning model laid over the system
(``pybofh_drbd.effects`` writes it): a resource a planned step brought up is up with the state it planned, one a
planned step took down is down, and a /dev/drbdN only a planned step made has the size it planned.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from pybofh_core.errors import CommandError, NotFoundError, ValidationError
from pybofh_core.model import BLOCK, GONE
from pybofh_core.runner import device_size as runner_device_size
from pybofh_core.runner import get_runner, run
from pybofh_core.validate import validate_path

from . import parsers
from .checks import check_resource_name as check_resource_name  # ops and the CLI call it as facts.…
from .errors import (
    DrbdUnavailableError,
    ResourceDownError,
    ResourceNotFoundError,
    SyncImpossibleError,
    SyncTimeoutError,
)
from .settings import DrbdSettings
from .types import DiskState, DrbdConfig, DrbdResource, ProcDrbd, ResourceConfig

PROC_DRBD = "/proc/drbd"
_DRBD_DEV = re.compile(r"^/dev/drbd(\d+)$")

#: The planning model's kinds (``pybofh_drbd.effects`` writes them): a resource's status as the planned steps leave
#: it (key the resource name, value a ``DrbdResource``; ``GONE`` after a planned down), and the DRBD metadata a
#: planned ``create_md`` wrote (key the backing disk, value an ``effects.PlannedMetadata``).
RESOURCE = "drbd.resource"
METADATA = "drbd.md"


def planned(kind: str, key: str) -> Any:
    """The dry run's planned object of ``kind`` (``GONE`` if a planned step removed it), None when no planned step
    touched it or commands really run."""
    model = get_runner().model
    return None if model is None else model.get(kind, key)


def drbd_settings() -> DrbdSettings:
    """The ``drbd`` settings namespace (defaults when the plugin was not registered through discovery)."""
    from pybofh_core.session import get_settings

    try:
        return get_settings().drbd  # type: ignore[no-any-return]
    except AttributeError:
        return DrbdSettings()


def drbdadm(*args: str) -> list[str]:
    """The argv of ``drbdadm [-c CONFIG] ARGS`` (the config file comes from the ``drbd.config_file`` setting)."""
    cfg = drbd_settings().config_file
    return ["drbdadm", *(["-c", str(cfg)] if cfg else []), *args]


def list_resources() -> list[str]:
    """Names of the resources defined for this host (``drbdadm sh-resources``)."""
    return parsers.parse_sh_words(run(drbdadm("sh-resources"), readonly=True).stdout)


def require_resource(res: Any) -> str:
    """Validate ``res`` and check that the configuration defines it; raise ResourceNotFoundError otherwise."""
    name = check_resource_name(res)
    known = list_resources()
    if name not in known:
        raise ResourceNotFoundError(
            f"DRBD resource {name!r} is not defined for this host (known: {', '.join(known) or 'none'}); "
            "check the configuration in /etc/drbd.d"
        )
    return name


def read_config(res: str | None = None) -> DrbdConfig:
    """The configuration as ``drbdadm dump [RES]`` prints it (all resources of this host when ``res`` is None)."""
    argv = drbdadm("dump", *([check_resource_name(res)] if res else []))
    result = run(argv, readonly=True)
    return parsers.parse_config(result.stdout, source=" ".join(argv), tool="drbdadm dump")


def resource_config(res: str) -> ResourceConfig:
    """The configuration of one resource (``drbdadm dump RES``)."""
    cfg = read_config(res)
    found = cfg.resource(res)
    if found is None:
        raise ResourceNotFoundError(f"drbdadm dump {res} did not describe resource {res!r}")
    return found


def minors(res: str) -> list[int]:
    """Minor numbers of a resource's volumes (``drbdadm sh-minor RES``)."""
    out = parsers.parse_sh_words(run(drbdadm("sh-minor", check_resource_name(res)), readonly=True).stdout)
    try:
        return [int(m) for m in out]
    except ValueError:
        from pybofh_core.errors import ParseError

        raise ParseError("drbdadm sh-minor", "minor is not a number", " ".join(out)) from None


def backing_disks(res: str) -> list[str]:
    """Backing (lower-level) devices of a resource's volumes (``drbdadm sh-ll-dev RES``)."""
    return parsers.parse_lines(run(drbdadm("sh-ll-dev", check_resource_name(res)), readonly=True).stdout)


def read_proc_drbd() -> ProcDrbd:
    """Parse /proc/drbd (read through the runner, so it works on remote hosts); DrbdUnavailableError if absent."""
    try:
        result = run(["cat", PROC_DRBD], readonly=True)
    except CommandError as exc:
        raise DrbdUnavailableError("drbd", f"{PROC_DRBD} is missing: the drbd kernel module is not loaded") from exc
    return parsers.parse_proc_drbd(result.stdout, source=PROC_DRBD)


def status(res: str) -> DrbdResource:
    """The typed status of one resource: ``drbdsetup status --json`` on DRBD 9, /proc/drbd on 8.x.

    Raises ResourceDownError when the resource is configured but not up, ResourceNotFoundError when unknown. In a
    dry run a resource a planned step changed has the status it planned (down after a planned ``down``).
    """
    name = check_resource_name(res)
    plan = planned(RESOURCE, name)
    if plan is GONE:
        raise ResourceDownError(f"DRBD resource {name!r} is not up (a planned step takes it down)")
    if isinstance(plan, DrbdResource):
        return plan
    proc = read_proc_drbd()
    if proc.major is not None and proc.major >= 9:
        argv = ["drbdsetup", "status", "--json", name]
        result = run(argv, readonly=True, check=False)
        if result.returncode != 0:
            _raise_missing(name, result.err)
            raise CommandError(argv, result.returncode, result.stdout, result.stderr)
        for found in parsers.parse_status_json(result.stdout, source=" ".join(argv)):
            if found.name == name:
                return found
        raise ResourceDownError(f"DRBD resource {name!r} is not up")
    return _status_84(name, proc)


def _raise_missing(name: str, err: str) -> None:
    low = err.lower()
    if "no such resource" in low or "unknown resource" in low:
        raise ResourceDownError(f"DRBD resource {name!r} is not up")
    if "not defined" in low:
        raise ResourceNotFoundError(f"DRBD resource {name!r} is not defined for this host")


def _status_84(name: str, proc: ProcDrbd) -> DrbdResource:
    """Status of an 8.x resource: its minors (``drbdadm sh-minor``) looked up in /proc/drbd, volumes in order."""
    argv = drbdadm("sh-minor", name)
    result = run(argv, readonly=True, check=False)
    if result.returncode != 0:
        _raise_missing(name, result.err)
        raise CommandError(argv, result.returncode, result.stdout, result.stderr)
    numbers = [int(m) for m in parsers.parse_sh_words(result.stdout) if m.isdigit()]
    if not numbers:
        raise ResourceNotFoundError(f"DRBD resource {name!r} has no minor in the configuration")
    parts = []
    for minor in numbers:
        dev = proc.device(minor)
        if dev is None or not dev.configured:
            raise ResourceDownError(f"DRBD resource {name!r} is not up (minor {minor} is not configured)")
        parts.append(parsers.resource_from_proc(dev, name))
    return merge_volumes(name, parts)


def merge_volumes(name: str, parts: list[DrbdResource]) -> DrbdResource:
    """Join per-minor 8.x statuses into one resource status with volumes 0..N-1."""
    from dataclasses import replace

    if len(parts) == 1:
        return parts[0]
    volumes = tuple(replace(p.volumes[0], number=i) for i, p in enumerate(parts))
    conn = parts[0].connections[0]
    peer_vols = tuple(replace(p.connections[0].volumes[0], number=i) for i, p in enumerate(parts))
    return replace(parts[0], volumes=volumes, connections=(replace(conn, volumes=peer_vols),))


def is_up(res: str) -> bool:
    """Whether the resource has kernel state (is up)."""
    try:
        status(res)
    except ResourceDownError:
        return False
    return True


def wait_synced(
    res: str,
    timeout: float | None = None,
    *,
    poll: float | None = None,
    on_progress: Callable[[DrbdResource], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DrbdResource:
    """Poll ``status(res)`` until every disk is UpToDate on both sides; return the final status.

    ``on_progress`` gets every status read (a CLI draws its progress bar from ``sync_percent``). Raises
    SyncTimeoutError after ``timeout`` seconds and SyncImpossibleError when the resync cannot finish (StandAlone,
    or a local disk that is Diskless/Failed). A resource that is still connecting is waited for. In a dry run a
    resource a planned step changed is not waited for (nothing syncs in a plan): its planned status is returned.
    """
    name = check_resource_name(res)
    if isinstance(planned(RESOURCE, name), DrbdResource):
        return status(name)
    if timeout is not None and timeout < 0:
        raise ValidationError(f"timeout {timeout!r} is negative")
    interval = drbd_settings().poll_interval if poll is None else poll
    if interval <= 0:
        raise ValidationError(f"poll interval {interval!r} must be positive")
    deadline = None if timeout is None else clock() + timeout
    while True:
        st = status(name)
        if on_progress is not None:
            on_progress(st)
        if st.synced:
            return st
        _check_possible(st)
        if deadline is not None and clock() >= deadline:
            pct = st.sync_percent
            raise SyncTimeoutError(
                f"DRBD resource {name!r} not in sync after {timeout:g}s"
                + (f" ({pct:.1f}% done)" if pct is not None else "") + "; wait longer or check the peer"
            )
        sleep(interval)


def _check_possible(st: DrbdResource) -> None:
    from .types import ConnectionState

    for v in st.volumes:
        if v.disk in (DiskState.DISKLESS, DiskState.FAILED):
            raise SyncImpossibleError(f"DRBD resource {st.name!r}: volume {v.number} is {v.disk.value}; attach it")
    for c in st.connections:
        if c.state is ConnectionState.STANDALONE:
            raise SyncImpossibleError(
                f"DRBD resource {st.name!r}: connection {c.name or ''} is StandAlone; run 'drbdadm connect {st.name}'"
            )


def device_size(device: str) -> int:
    """Size in bytes of a block device: ``blockdev --getsize64``, or sysfs for /dev/drbdN.

    DRBD 8.4 refuses to open a Secondary's device ("Wrong medium type"), so a DRBD device's size is read from
    ``/sys/block/drbdN/size`` (512-byte sectors), which works in every role. In a dry run, a device a planned step
    made or resized has its planned size.
    """
    from pybofh_core.errors import ParseError

    path = validate_path(device, what="device")
    model = get_runner().model
    if model is not None and model.get(BLOCK, path) is GONE:
        raise NotFoundError(f"{path} does not exist once the planned steps ran (a planned step removes it)")
    size = None if model is None else model.device_size(path)
    if size is not None:
        return size
    m = _DRBD_DEV.match(path)
    if m:
        argv = ["cat", f"/sys/block/drbd{m.group(1)}/size"]
        out = run(argv, readonly=True).text.strip()
        if not out.isdigit():
            raise ParseError(" ".join(argv), "size is not a number of sectors", out, path)
        return int(out) * 512
    return runner_device_size(path)


def resource_for_minor(minor: int) -> str | None:
    """The resource whose volume on this host uses ``minor`` (from ``drbdadm dump``), or None."""
    cfg = read_config()
    for r in cfg.resources:
        if r.name is not None and any(v.minor == minor for v in r.volumes_for(r.this_host)):
            return r.name
    return None


def resource_for_disk(device: str) -> tuple[str, int] | None:
    """The resource and minor whose backing disk on this host is ``device`` (same path or same device node)."""
    from pybofh_core.operations import same_object

    cfg = read_config()
    for r in cfg.resources:
        for v in r.volumes_for(r.this_host):
            if v.disk and v.minor is not None and same_object(v.disk, device):
                return r.name or "", v.minor
    return None


def next_free_minor() -> int:
    """The lowest minor ≥ the ``drbd.base_minor`` setting that no configured resource uses."""
    return read_config().next_free_minor(drbd_settings().base_minor)


def next_free_port() -> int:
    """The lowest port ≥ the ``drbd.base_port`` setting that no configured resource uses."""
    return read_config().next_free_port(drbd_settings().base_port)
