"""Operations on Xen domains through ``xl``, each with its inverse (or the reason it has none) right beside it."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from pybofh_core.errors import ToolUnavailableError, ValidationError
from pybofh_core.operations import operation, undo
from pybofh_core.runner import DryRunRunner, get_runner
from pybofh_core.validate import validate_path

from .errors import DomuTimeoutError
from .facts import (
    all_domus,
    domain_name,
    domu_disks,
    find_domu,
    is_domu_running,
    list_domains,
    resolve_domu,
    settings,
    xl,
)
from .types import DomU, RestoredDomu, SavedDomu, StartedDomu, StoppedDomu

_HOST = re.compile(r"^([A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.:-]*$")


def _dry_run() -> bool:
    return isinstance(get_runner(), DryRunRunner)


@operation(inverse=lambda res: undo(destroy_domu, res.name), creates=lambda res: [res.name],
           aliases=["startDomu"], requires=["xl"])
def start_domu(domu: DomU | str | Path) -> StartedDomu:
    """Create (boot) a domU from its config file: ``xl create PATH``. Takes a DomU, a name or a config path."""
    d = resolve_domu(domu)
    if d.config_path is None:
        raise ValidationError(f"domU {d.name} was not read from a file; xl create needs its config file")
    xl("create", "--", str(d.config_path))
    return StartedDomu(name=d.name, config_path=str(d.config_path))


@operation(irreversible="destroys the running domain at once; its memory state is lost", target="domu",
           aliases=["destroyDomu"], requires=["xl"])
def destroy_domu(domu: DomU | str) -> str:
    """Destroy a domain immediately, like pulling its power cord: ``xl destroy NAME``."""
    name = domain_name(domu)
    xl("destroy", "--", name)
    return name


def _timeout(value: float | None) -> float:
    timeout = settings().shutdown_timeout if value is None else value
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValidationError(f"timeout: {value!r} is not a number of seconds >= 0")
    return float(timeout)


def wait_until_gone(name: str, timeout: float) -> None:
    """Poll ``xl list`` until no domain is called ``name``; :class:`DomuTimeoutError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        live = [d for d in list_domains() if d.name == name]
        if not live:
            return
        if time.monotonic() >= deadline:
            raise DomuTimeoutError(
                f"domain {name} still exists {timeout:g}s after shutdown (state {live[0].state}); wait longer, "
                "or destroy it"
            )
        time.sleep(settings().poll_interval)


@operation(inverse=lambda res: undo(start_domu, res.config_path) if res.config_path else None,
           aliases=["shutdownDomu"], requires=["xl"])
def shutdown_domu(domu: DomU | str, wait: bool = True, timeout: float | None = None) -> StoppedDomu:
    """Ask a domain to shut down (``xl shutdown NAME``) and, with ``wait``, poll until it is gone or time runs out.

    The undo starts it again from its config file when that file is known (a DomU, or a name found in the config
    directories); otherwise there is nothing pybofh could start, and the step has no undo.
    """
    name = domain_name(domu)
    limit = _timeout(timeout)
    config = domu.config_path if isinstance(domu, DomU) else getattr(find_domu(name), "config_path", None)
    xl("shutdown", "--", name)
    if wait and not _dry_run():
        wait_until_gone(name, limit)
    return StoppedDomu(name=name, config_path=str(config) if config else None)


@operation(inverse=lambda res: None, aliases=["reboot", "rebootDomu"], requires=["xl"])
def reboot_domu(domu: DomU | str) -> str:
    """Reboot a domain (``xl reboot NAME``); it comes back running, so there is nothing to undo."""
    name = domain_name(domu)
    xl("reboot", "--", name)
    return name


@operation(inverse=lambda name: undo(unpause_domu, name), aliases=["pause", "pauseDomu"], requires=["xl"])
def pause_domu(domu: DomU | str) -> str:
    """Pause a domain's vCPUs (``xl pause NAME``); the undo unpauses it."""
    name = domain_name(domu)
    xl("pause", "--", name)
    return name


@operation(inverse=lambda name: undo(pause_domu, name), aliases=["unpause", "unpauseDomu"], requires=["xl"])
def unpause_domu(domu: DomU | str) -> str:
    """Unpause a paused domain (``xl unpause NAME``); the undo pauses it again."""
    name = domain_name(domu)
    xl("unpause", "--", name)
    return name


def _state_file(path: str | Path, *, must_exist: bool) -> str:
    text = validate_path(path, what="domain state file")
    if must_exist:
        validate_path(text, what="domain state file", kind="file")
        return text
    if os.path.lexists(text):
        raise ValidationError(f"domain state file {text} already exists; pick a new file (xl would overwrite it)")
    validate_path(os.path.dirname(text) or "/", what="directory of the domain state file", kind="dir")
    return text


@operation(inverse=lambda res: undo(restore_domu, res.path), aliases=["save", "saveDomu"], requires=["xl"])
def save_domu(domu: DomU | str, path: str | Path) -> SavedDomu:
    """Save a domain's memory to a new file and stop it (``xl save NAME FILE``); the undo restores it from there."""
    name = domain_name(domu)
    target = _state_file(path, must_exist=False)
    xl("save", "--", name, target)
    return SavedDomu(name=name, path=target)


@operation(inverse=lambda res: undo(destroy_domu, res.name) if res.name else None,
           aliases=["restore", "restoreDomu"], requires=["xl"])
def restore_domu(path: str | Path) -> RestoredDomu:
    """Restore a saved domain from its state file (``xl restore FILE``); the file is kept.

    The new domain is found by comparing ``xl list`` before and after; the undo destroys it, which leaves things as
    they were before the restore (the state file still holds the domain).
    """
    source = _state_file(path, must_exist=True)
    before = {d.name for d in list_domains()}
    xl("restore", "--", source)
    new = [d.name for d in list_domains() if d.name not in before] if not _dry_run() else []
    return RestoredDomu(path=source, name=new[0] if len(new) == 1 else None)


@operation(irreversible="the domain then runs on the other host; migrate it back from there", target="domu",
           aliases=["migrate", "migrateDomu"], requires=["xl", "ssh"])
def migrate_domu(domu: DomU | str, host: str) -> str:
    """Live-migrate a domain to ``host`` over ssh (``xl migrate NAME HOST``)."""
    name = domain_name(domu)
    if not isinstance(host, str) or not _HOST.match(host) or len(host) > 253:
        raise ValidationError(f"migration host: {host!r} is not a host name (optionally user@host)")
    xl("migrate", "--", name, host)
    return host


@operation(composite=True, aliases=["startAll", "startAllDomus"], requires=["xl"])
def start_all() -> list[StartedDomu]:
    """Start every configured domU that is not running yet (each start is its own undoable step)."""
    domus = all_domus()
    running = {d.name for d in list_domains()}
    return [start_domu(d) for d in domus if d.name not in running]


@operation(composite=True, aliases=["resizeDomuDisk"], requires=["xl"])
def resize_domu_disk(domu: DomU | str | Path, vdev: str, size: int | str) -> Any:
    """Resize the block device behind a stopped domU's disk ``vdev`` and everything stacked on it (LV, LUKS,
    filesystem…) through pybofh-blockdev's layer stack; each layer's resize is its own undoable step.

    Refused while the domain runs (its guest has the filesystem mounted); a host without a hypervisor runs none.
    """
    d = resolve_domu(domu)
    backing = {b.vdev: b for b in domu_disks(d)}
    if vdev not in backing:
        raise ValidationError(f"domU {d.name} has no disk {vdev!r} with a host path (has: {', '.join(backing)})")
    if backing[vdev].kind != "block":
        raise ValidationError(f"disk {vdev} of {d.name} is {backing[vdev].path} ({backing[vdev].kind}), "
                              "not a block device")
    try:
        from pybofh_blockdev.layers import resize_stack
    except ImportError:
        raise ToolUnavailableError("pybofh-blockdev", "install it to resize through the block-device stack") from None
    try:
        running = is_domu_running(d)
    except ToolUnavailableError:
        running = False  # no hypervisor on this host: nothing runs here
    if running:
        raise ValidationError(f"domU {d.name} is running; shut it down before resizing its disk {vdev}")
    return resize_stack(backing[vdev].path, size)
