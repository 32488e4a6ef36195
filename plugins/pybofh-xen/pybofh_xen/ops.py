"""Operations on Xen domains through ``xl``, each with its inverse (or the reason it has none) right beside it.

Each undo names its domain by identity: the domU's UUID (read back from ``xl list -l`` after the step) and, since
no domain survives a reboot of dom0, the boot id; a saved domain's state file by its device, inode and birth time.
Before an undo runs the domain is looked up: gone (or already as the undo leaves it) counts as undone, another
domain under the same name is left alone. Undos known before the command (start again after a shutdown, unpause
after a pause, restore after a save) are journalled ahead of it.
"""

from __future__ import annotations

import os
import re
import time
import uuid as uuid_mod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pybofh_core.errors import NotFoundError, ToolUnavailableError, ValidationError
from pybofh_core.identity import ACT, Verdict, already, ephemeral, other, same_boot
from pybofh_core.model import placeholder
from pybofh_core.operations import Undo, operation, undo, undo_ahead
from pybofh_core.runner import get_runner, run
from pybofh_core.validate import PathArg, validate_path

from .errors import DomuTimeoutError
from .facts import (
    all_domus,
    domain_name,
    domu_disks,
    find_domu,
    is_domu_running,
    list_domains,
    resolve_domu,
    running_domus,
    settings,
    xl,
)
from .types import DomainDetails, DomU, RestoredDomu, SavedDomu, StartedDomu, StoppedDomu

_HOST = re.compile(r"^([A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.:-]*$")


def _dry_run() -> bool:
    """Whether commands are only being planned (``Runner.dry_run``)."""
    return get_runner().dry_run


# --- identities ----------------------------------------------------------------------------------------------------


def _details(name: str) -> DomainDetails | None:
    """The domain called ``name`` that exists now, with its UUID (``xl list -l``), or None."""
    return next((d for d in running_domus() if d.name == name), None)


def _domain_undo(u: Undo, name: str) -> Undo:
    """``u`` acting only on the domain called ``name`` that exists now (its UUID, this boot of dom0)."""
    if _dry_run():
        return u
    found = _details(name)
    return u.expecting(**ephemeral(name=name, uuid=found.uuid if found else None))


def _same_domain(args: Mapping[str, Any], identity: Mapping[str, Any]) -> tuple[str, DomainDetails | Verdict]:
    """The domain an undo acts on, or the verdict when it is not the step's: gone (already), another UUID (other)."""
    name = domain_name(args["domu"])
    want = identity.get("uuid")
    if not same_boot(identity):
        return name, already(f"domain {name} ({want}) belonged to a boot of dom0 before the last reboot")
    found = _details(name)
    if found is None:
        return name, already(f"domain {name} ({want}) is gone")
    if found.uuid != want:
        return name, other(f"domain {name} is now domU {found.uuid}, not {want} which the step made or changed")
    return name, found


def _identify_destroy(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Destroying (the undo of a start or a restore): only the domain with the step's UUID. Where xl cannot run
    (not installed, no hypervisor) no domain runs: the start failed before it made one (its undo is journalled
    before ``xl create``)."""
    try:
        _, found = _same_domain(args, identity)
    except ToolUnavailableError as exc:
        return already(f"no domain runs here: {exc}")
    return found if isinstance(found, Verdict) else ACT


def _paused(name: str) -> bool:
    """Whether the domain called ``name`` is paused now (``xl list`` state flags)."""
    return any(d.name == name and "p" in d.state for d in list_domains())


def _identify_unpause(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Unpausing (the undo of pause): the step's domain, while it is still paused."""
    name, found = _same_domain(args, identity)
    if isinstance(found, Verdict):
        return found
    return ACT if _paused(name) else already(f"domain {name} is not paused any more")


def _identify_pause(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Pausing again (the undo of unpause): the step's domain, while it is not paused."""
    name, found = _same_domain(args, identity)
    if isinstance(found, Verdict):
        return found
    return already(f"domain {name} is paused again") if _paused(name) else ACT


def _identify_start(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Starting again (the undo of a shutdown): done when a domain of that name runs; refused when its config file
    is gone or now defines another domain; after a reboot of dom0 the step's effect is gone with the domain."""
    name = identity.get("name")
    if not same_boot(identity):
        return already(f"domain {name} was shut down before the last reboot of dom0")
    try:
        domu = resolve_domu(args["domu"])
    except NotFoundError:
        return other(f"the config of domain {name} ({args['domu']}) is gone; it cannot be started again")
    if name is not None and domu.name != name:
        return other(f"{domu.config_path} now defines domain {domu.name}, not {name} which the step shut down")
    if is_domu_running(domu.name):
        return already(f"domain {domu.name} is running again")
    return ACT


# --- start / destroy -----------------------------------------------------------------------------------------------


def _destroy_started(res: StartedDomu) -> Any:
    """The undo of a start: destroy the domain it started, by the UUID the start gave it (a def, not a lambda:
    mypy types it late)."""
    return _destroy_uuid(res.name, res.uuid)


def _destroy_uuid(name: str, uuid: str | None) -> Undo:
    """Destroy the domain called ``name`` with ``uuid`` in this boot of dom0 (read back when ``uuid`` is None)."""
    u = undo(destroy_domu, name)
    if _dry_run():
        return u
    return u.expecting(**ephemeral(name=name, uuid=uuid)) if uuid else _domain_undo(u, name)


def _start_uuid(d: DomU) -> tuple[str, list[str]]:
    """The UUID the domain will have and the ``xl create`` arguments giving it: the config's own ``uuid``, else one
    pybofh picks (``uuid="…"`` after the config file), so the undo names the domain before it exists."""
    own = d.config.get("uuid")
    if isinstance(own, str) and own.strip():
        return own.strip().lower(), []
    new = str(placeholder(f"uuid of domU {d.name}")) if _dry_run() else str(uuid_mod.uuid4())
    return new, [f'uuid="{new}"']


@operation(inverse=_destroy_started, creates=lambda res: [res.name],
           aliases=["startDomu"], identify=_identify_start, requires=["xl"])
def start_domu(domu: DomU | str | Path) -> StartedDomu:
    """Create (boot) a domU from its config file: ``xl create PATH``. Takes a DomU, a name or a config path.

    Its undo destroys the domain by its UUID: the config's own, else one pybofh gives it on the command line
    (``xl create -- PATH uuid="…"``). That undo is journalled before ``xl create`` runs, so a rollback after a
    ``kill -9`` during the create destroys the domain if it came up; a domain of that name started by someone else
    since is left alone.
    """
    d = resolve_domu(domu)
    if d.config_path is None:
        raise ValidationError(f"domU {d.name} was not read from a file; xl create needs its config file")
    uuid, extra = _start_uuid(d)
    undo_ahead(lambda: _destroy_uuid(d.name, uuid))
    xl("create", "--", str(d.config_path), *extra)
    return StartedDomu(name=d.name, config_path=str(d.config_path), uuid=uuid)


@operation(irreversible="destroys the running domain at once; its memory state is lost", target="domu",
           aliases=["destroyDomu"], identify=_identify_destroy, requires=["xl"])
def destroy_domu(domu: DomU | str) -> str:
    """Destroy a domain immediately, like pulling its power cord: ``xl destroy NAME``.

    Everything the guest had not written to its disks (its memory, open files, caches) is lost. As the undo of
    a start or a restore it destroys only the domain with the UUID its step read back.
    """
    name = domain_name(domu)
    xl("destroy", "--", name)
    return name


def _timeout(value: float | None) -> float:
    timeout = settings().shutdown_timeout if value is None else value
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValidationError(f"timeout: {value!r} is not a number of seconds >= 0")
    return float(timeout)


def wait_until_gone(name: str, timeout: float) -> None:
    """Poll ``xl list`` until no domain is called ``name``; ``DomuTimeoutError`` after ``timeout`` seconds."""
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


def _start_undo(name: str, config: str) -> Undo:
    """Start the domain again from its config file (while this boot of dom0 lasts)."""
    u = undo(start_domu, config)
    return u if _dry_run() else u.expecting(**ephemeral(name=name, config=config))


@operation(inverse=lambda res: _start_undo(res.name, res.config_path) if res.config_path else None,
           aliases=["shutdownDomu"], requires=["xl"])
def shutdown_domu(domu: DomU | str, wait: bool = True, timeout: float | None = None) -> StoppedDomu:
    """Ask a domain to shut down (``xl shutdown NAME``) and, with ``wait``, poll until it is gone or time runs out.

    The guest's running state ends: what it does not save while shutting down is lost. The undo starts it again
    from its config file when that file is known (a DomU, or a name found in the config directories) — a fresh
    boot, not the state it had; otherwise there is nothing pybofh could start, and the step has no undo. Inside an
    atomic block that undo is journalled before ``xl shutdown`` runs.
    """
    name = domain_name(domu)
    limit = _timeout(timeout)
    config = domu.config_path if isinstance(domu, DomU) else getattr(find_domu(name), "config_path", None)
    if config:
        undo_ahead(lambda: _start_undo(name, str(config)))
    xl("shutdown", "--", name)
    if wait and not _dry_run():
        wait_until_gone(name, limit)
    return StoppedDomu(name=name, config_path=str(config) if config else None)


@operation(no_undo="the domain comes back running; the running state it had before cannot be brought back",
           aliases=["reboot", "rebootDomu"], requires=["xl"])
def reboot_domu(domu: DomU | str) -> str:
    """Reboot a domain (``xl reboot NAME``): the guest restarts, so its running state (memory, processes) is lost;
    it comes back running, so there is nothing to undo."""
    name = domain_name(domu)
    xl("reboot", "--", name)
    return name


def _unpause_undo(name: str) -> Any:
    """The undo of a pause: unpause the domain (a def, not a lambda: mypy types it late)."""
    return _domain_undo(undo(unpause_domu, name), name)


@operation(inverse=_unpause_undo, aliases=["pause", "pauseDomu"],
           identify=_identify_pause, requires=["xl"])
def pause_domu(domu: DomU | str) -> str:
    """Pause a domain's vCPUs (``xl pause NAME``); the undo unpauses it (journalled ahead inside a block)."""
    name = domain_name(domu)
    undo_ahead(lambda: _domain_undo(undo(unpause_domu, name), name))
    xl("pause", "--", name)
    return name


@operation(inverse=lambda name: _domain_undo(undo(pause_domu, name), name), aliases=["unpause", "unpauseDomu"],
           identify=_identify_unpause, requires=["xl"])
def unpause_domu(domu: DomU | str) -> str:
    """Unpause a paused domain (``xl unpause NAME``); the undo pauses it again (journalled ahead inside a block)."""
    name = domain_name(domu)
    undo_ahead(lambda: _domain_undo(undo(pause_domu, name), name))
    xl("unpause", "--", name)
    return name


def _state_file(path: PathArg, *, must_exist: bool) -> str:
    text = validate_path(path, what="domain state file")
    if must_exist:
        validate_path(text, what="domain state file", kind="file")
        return text
    if get_runner().exists(text):  # asked where xl writes it
        raise ValidationError(f"domain state file {text} already exists; pick a new file (xl would overwrite it)")
    validate_path(os.path.dirname(text) or "/", what="directory of the domain state file", kind="dir")
    return text


def _file_identity(path: str) -> str | None:
    """``device:inode:birth-time`` of the file at ``path`` where xl runs, None when it is gone."""
    res = run(["stat", "-c", "%d:%i:%W", "--", path], readonly=True, check=False)
    return res.text.strip() if res.returncode == 0 else None


def _restore_undo(name: str, path: str, uuid: str | None, *, with_file: bool) -> Undo:
    """Restore the saved domain from ``path`` (that very file, once written), unless it runs again."""
    u = undo(restore_domu, path)
    if _dry_run():
        return u
    ident: dict[str, Any] = {"name": name, "uuid": uuid}
    if with_file:
        ident["file"] = _file_identity(path)
    return u.expecting(**ident)


def _identify_restore(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Restoring (the undo of a save): done when the saved domain (its UUID) runs again; refused when another
    domain has its name, or the state file is gone or another file now."""
    path = validate_path(args["path"], what="domain state file")
    name, want = identity.get("name"), identity.get("uuid")
    found = _details(str(name)) if name else None
    if found is not None:
        if found.uuid == want:
            return already(f"domain {name} ({want}) is running again")
        return other(f"domain {name} is now domU {found.uuid}, not {want} which the step saved")
    now = _file_identity(path)
    if now is None:
        return other(f"state file {path} of domain {name} ({want}) is gone; it cannot be restored")
    if identity.get("file") and now != identity["file"]:
        return other(f"{path} is now file {now} (device:inode:birth), not {identity['file']} which the step saved "
                     f"{name} to")
    return ACT


@operation(inverse=lambda res: _restore_undo(res.name, res.path, res.uuid, with_file=True),
           aliases=["save", "saveDomu"], requires=["xl", "stat"])
def save_domu(domu: DomU | str, path: PathArg) -> SavedDomu:
    """Save a domain's memory to a new file and stop it (``xl save NAME FILE``); the undo restores it from there.

    The domain stops running; its state lives on only in the file. Inside an atomic block the undo (restore,
    unless the domain runs again) is journalled before ``xl save`` starts, with the domain's UUID.
    """
    name = domain_name(domu)
    target = _state_file(path, must_exist=False)
    found: dict[str, str | None] = {}

    def ahead() -> Undo:
        details = _details(name)
        found["uuid"] = details.uuid if details else None
        return _restore_undo(name, target, found["uuid"], with_file=False)

    undo_ahead(ahead)
    xl("save", "--", name, target)
    return SavedDomu(name=name, path=target, uuid=found.get("uuid"))


@operation(inverse=lambda res: _domain_undo(undo(destroy_domu, res.name), res.name) if res.name else None,
           aliases=["restore", "restoreDomu"], identify=_identify_restore, requires=["xl"])
def restore_domu(path: PathArg) -> RestoredDomu:
    """Restore a saved domain from its state file (``xl restore FILE``); the file is kept.

    The new domain is found by comparing ``xl list`` before and after; the undo destroys it (its running state
    since the restore is lost; the state file still holds the domain as it was saved), by the UUID read back.
    """
    source = _state_file(path, must_exist=True)
    before = {d.name for d in list_domains()}
    xl("restore", "--", source)
    new = [d.name for d in list_domains() if d.name not in before] if not _dry_run() else []
    return RestoredDomu(path=source, name=new[0] if len(new) == 1 else None)


@operation(irreversible="the domain then runs on the other host; migrate it back from there", target="domu",
           aliases=["migrate", "migrateDomu"], requires=["xl", "ssh"])
def migrate_domu(domu: DomU | str, host: str) -> str:
    """Live-migrate a domain to ``host`` over ssh (``xl migrate NAME HOST``); it stops running here."""
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

    While the domain runs its guest owns what is inside: only the device itself (an LV) is grown, which the guest's
    blkfront sees on its next I/O (the guest grows its own filesystem); a shrink is refused. A host without a
    hypervisor runs no domain.
    """
    d = resolve_domu(domu)
    backing = {b.vdev: b for b in domu_disks(d)}
    if vdev not in backing:
        raise ValidationError(f"domU {d.name} has no disk {vdev!r} with a host path (has: {', '.join(backing)})")
    if backing[vdev].kind != "block":
        raise ValidationError(f"disk {vdev} of {d.name} is {backing[vdev].path} ({backing[vdev].kind}), "
                              "not a block device")
    from pybofh_core.session import get_plugins

    operations = get_plugins().operations  # another plugin's operation, found by name: xen does not import blockdev
    if not operations.has("blockdev.resize_stack"):
        raise ToolUnavailableError("pybofh-blockdev", "install it to resize through the block-device stack")
    try:
        running = is_domu_running(d)
    except ToolUnavailableError:
        running = False  # no hypervisor on this host: nothing runs here
    if running:
        return operations.get("blockdev.grow_device")(backing[vdev].path, size)
    return operations.get("blockdev.resize_stack")(backing[vdev].path, size)
