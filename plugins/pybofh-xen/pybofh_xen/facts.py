"""Readers of Xen state: domU config files and ``xl`` queries (one command each, handed to a pure parser)."""

from __future__ import annotations

import fnmatch
import logging
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pybofh_core.errors import (
    CommandError,
    NotFoundError,
    ParseError,
    PybofhError,
    ToolUnavailableError,
    ValidationError,
)
from pybofh_core.parsing import decode_text
from pybofh_core.runner import Result, Runner, get_runner, run
from pybofh_core.session import get_settings
from pybofh_core.validate import validate_path

from .checks import validate_domain_name as validate_domain_name
from .errors import DomuNotFoundError
from .parsers import parse_xl_info, parse_xl_list, parse_xl_list_long
from .types import Domain, DomainDetails, DomU, RestoredDomu, StartedDomu, StoppedDomu, XlInfo
from .xlcfg import parse_domu_config

log = logging.getLogger("pybofh.xen")

_NO_XEN = ("Can't find hypervisor information", "cannot init xl context", "Could not obtain handle on privileged")


def settings() -> Any:
    """The resolved ``[xen]`` settings."""
    return get_settings().xen


def xl(*args: str, readonly: bool = False) -> Result:
    """Run ``xl ARGS`` through the core runner; a missing xl or hypervisor becomes ``ToolUnavailableError``."""
    argv = [settings().xl_command, *args]
    try:
        return run(argv, readonly=readonly)
    except CommandError as exc:
        err = decode_text(exc.stderr)
        if exc.returncode is None and "not installed" in (exc.reason or ""):
            raise ToolUnavailableError("xl", "not installed (Debian: apt-get install xen-utils)") from exc
        if any(marker in err for marker in _NO_XEN):
            raise ToolUnavailableError("xl", "this machine is not a Xen dom0 (no hypervisor): " + err.strip()) from exc
        raise


#: results that name a domain: accepted wherever a domain is (``shutdown_domu(start_domu("web"))``)
NAMED = (DomU, Domain, DomainDetails, StartedDomu, StoppedDomu, RestoredDomu)


def domain_name(domu: DomU | Domain | DomainDetails | StartedDomu | StoppedDomu | RestoredDomu | str) -> str:
    """The validated name of a domain result (a DomU, a Domain from ``xl list``, a started domU…) or a name."""
    if isinstance(domu, NAMED):
        return validate_domain_name(domu.name)
    return validate_domain_name(domu)


# --- domU configs ---------------------------------------------------------------------------------------------


def read_domu_config(path: str | Path) -> DomU:
    """Read and parse one domU config file (never evaluated)."""
    text = validate_path(path, what="domU config", kind="file")
    try:
        data = get_runner().read_file(text)  # the config of the machine xl runs on
    except (NotFoundError, ValidationError) as exc:
        raise ValidationError(f"domU config {exc}") from None
    domu = parse_domu_config(data, path=text)
    validate_domain_name(domu.name)
    return domu


def config_files() -> list[Path]:
    """Every domU config file in the configured directories, in directory order then name order.

    Listed where xl runs (``Runner.list_dir``); the glob is matched here as ``Path.glob`` matches one directory's
    names (case-sensitive, hidden names included).
    """
    cfg = settings()
    runner = get_runner()
    files: list[Path] = []
    for directory in cfg.domu_config_dirs:
        try:
            names = runner.list_dir(str(directory))
        except ValidationError as exc:  # unreadable: nothing found there, as a glob finds nothing
            log.debug("domU config directory %s: %s", directory, exc)
            continue
        if names is None:
            log.debug("domU config directory %s does not exist", directory)
            continue
        matched = [n for n in names if fnmatch.fnmatchcase(n, cfg.config_glob)]
        files += sorted(Path(directory) / n for n in matched
                        if _kind(runner, posixpath.join(str(directory), n)) == "file")
    return files


def _kind(runner: Runner, path: str) -> str | None:
    """``path_kind`` of a listed name; one that vanished or cannot be looked at is no file."""
    try:
        return runner.path_kind(path)
    except ValidationError:
        return None


def all_domus(*, on_error: Literal["raise", "skip"] = "raise") -> list[DomU]:
    """Every domU defined in the configured config directories (``xen.domu_config_dirs``, ``xen.config_glob``).

    A file that does not parse raises its ParseError (``on_error="skip"`` logs a warning and leaves it out).
    """
    out = []
    for path in config_files():
        try:
            out.append(read_domu_config(path))
        except (ParseError, ValidationError) as exc:
            if on_error == "raise":
                raise
            log.warning("skipping %s: %s", path, exc)
    return out


def find_domu(name: str) -> DomU | None:
    """The configured domU called ``name``, or None (unparsable config files are skipped)."""
    name = validate_domain_name(name)
    for domu in all_domus(on_error="skip"):
        if domu.name == name:
            return domu
    return None


def get_domu(name: str) -> DomU:
    """The configured domU called ``name``; ``DomuNotFoundError`` if no config file defines it."""
    domu = find_domu(name)
    if domu is None:
        dirs = ", ".join(str(d) for d in settings().domu_config_dirs)
        raise DomuNotFoundError(f"no domU config named {name!r} in {dirs} (files {settings().config_glob})")
    return domu


def resolve_domu(domu: DomU | str | Path) -> DomU:
    """A DomU from a DomU, a config file path (absolute) or a configured domU's name."""
    if isinstance(domu, DomU):
        validate_domain_name(domu.name)
        return domu
    if isinstance(domu, NAMED):  # a running domain or a start's result: its config by name
        return get_domu(validate_domain_name(domu.name))
    if isinstance(domu, Path) or (isinstance(domu, str) and domu.startswith("/")):
        return read_domu_config(domu)
    return get_domu(validate_domain_name(domu))


# --- xl queries -------------------------------------------------------------------------------------------------


def list_domains() -> list[Domain]:
    """Every domain that exists now (``xl list``), Domain-0 included."""
    res = xl("list", readonly=True)
    return parse_xl_list(res.stdout, source="xl list")


def running_domus() -> list[DomainDetails]:
    """The domUs that exist now, with their devices (``xl list -l``; Domain-0 left out)."""
    res = xl("list", "-l", readonly=True)
    return [d for d in parse_xl_list_long(res.stdout, source="xl list -l") if d.domid != 0]


def xl_info() -> XlInfo:
    """The host and hypervisor summary (``xl info``)."""
    return parse_xl_info(xl("info", readonly=True).stdout, source="xl info")


def is_domu_running(domu: DomU | str) -> bool:
    """Whether a domain of that name exists now (running, blocked, paused or still shutting down)."""
    name = domain_name(domu)
    return any(d.name == name for d in list_domains())


# --- disks ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskBacking:
    """Where a domU disk lives on the host: a block device (LV, DRBD, loop…), an image file, or nothing yet."""

    vdev: str
    path: str
    kind: str  # "block", "file", "missing", "other"
    writable: bool


def domu_disks(domu: DomU | str | Path, *, include_cdroms: bool = False) -> list[DiskBacking]:
    """The host paths behind a domU's disks (``phy:``/``file:``/positional targets), with what each one is.

    Give a ``block`` path to pybofh's block-device layer (e.g. to grow an LV-backed domU disk through its stack);
    script targets (``drbd:``, ``iscsi:``) and empty CD-ROMs have no host path and are left out.
    """
    d = resolve_domu(domu)
    out = []
    for disk in d.disks:
        if disk.path is None or (disk.is_cdrom and not include_cdroms):
            continue
        try:
            found = get_runner().path_kind(disk.path)  # asked where xl runs (this host, or the --host)
        except PybofhError:
            found = "other"
        kind = "missing" if found is None else found if found in ("block", "file") else "other"
        out.append(DiskBacking(vdev=disk.vdev, path=disk.path, kind=kind, writable=disk.access.value == "rw"))
    return out


def domu_block_devices(domu: DomU | str | Path) -> list[str]:
    """The block devices (not image files) backing a domU's disks, e.g. ``['/dev/vg0/web-disk']``."""
    return [b.path for b in domu_disks(domu) if b.kind == "block"]


@dataclass(frozen=True, slots=True)
class DomuOverview:
    """One line of ``bofh xen list``: a configured or running domain and whether it runs."""

    name: str
    running: bool
    domid: int | None
    state: str | None
    memory_bytes: int | None
    vcpus: int | None
    config_path: str | None


def overview() -> list[DomuOverview]:
    """Configured domUs with their running state, then running domains that no config file defines."""
    domains = {d.name: d for d in list_domains()}
    rows = []
    for domu in all_domus(on_error="skip"):
        live = domains.pop(domu.name, None)
        rows.append(DomuOverview(
            name=domu.name, running=live is not None, domid=live.domid if live else None,
            state=live.state if live else None, memory_bytes=live.memory_bytes if live else domu.memory_bytes,
            vcpus=live.vcpus if live else domu.vcpus, config_path=str(domu.config_path),
        ))
    for live in domains.values():
        if live.domid == 0:
            continue
        rows.append(DomuOverview(name=live.name, running=True, domid=live.domid, state=live.state,
                                 memory_bytes=live.memory_bytes, vcpus=live.vcpus, config_path=None))
    return rows


# The seed's camelCase names.
allDomus = all_domus
isDomuRunning = is_domu_running
runningDomus = running_domus
