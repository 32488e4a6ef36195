"""DRBD operations through ``drbdadm``, each with its inverse right beside it (or the reason it has none).

Every operation validates the resource name and checks that this host's configuration defines it
(``drbdadm sh-resources``, read-only) before the first mutating command. The argv forms are the ones both
drbdadm 9 and the 8.4 drbdadm shipped with drbd-utils 9 accept (checked with ``drbdadm -d``).

Each undo names its resource by identity: its name, its minor(s) and — DRBD's kernel state does not survive a
reboot — the boot id. Before an undo runs, the resource's state is read: a resource that is down, or already as
the undo would leave it (Secondary again, StandAlone again, Diskless again…), counts as undone; one that is up
with other minors is left alone. Undos known before the command (the previous role, connection, attach state,
pause, size) are journalled ahead of it. ``create_md`` and ``invalidate`` destroy data: they check first and need
``force``. Each operation that changes state declares its effect on a dry run's planning model (``effects``), so a
planned ``primary`` after a planned ``up`` sees the resource up.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from pybofh_core import operation, undo
from pybofh_core.errors import DataAtRiskError, ValidationError
from pybofh_core.identity import ACT, Verdict, already, ephemeral, other, same_boot
from pybofh_core.operations import Undo, same_object, undo_ahead
from pybofh_core.runner import get_runner, run
from pybofh_core.safety import FORCE_HINT, refuse_if_holds_data
from pybofh_core.validate import parse_size, size_text, validate_path

from . import effects, facts
from .checks import check_resource_name
from .errors import DrbdUnavailableError, ResourceDownError
from .types import ConnectionState, DiskState, DrbdResource, ResizeResult, Role, RoleChange

SIZE_STEP = 4096  # DRBD sizes devices in 4 KiB bitmap blocks


# --- identities ----------------------------------------------------------------------------------------------------


def _state(name: str) -> DrbdResource | None:
    """The resource's kernel state now, None when it is down (or no DRBD module is loaded: nothing is up)."""
    try:
        return facts.status(name)
    except (ResourceDownError, DrbdUnavailableError):
        return None


def _dry_run() -> bool:
    return bool(get_runner().dry_run)


def _identity(name: str, st: DrbdResource | None = None) -> dict[str, Any]:
    """Resource name, minor(s) (the kernel's when up, else the configuration's) and the boot id."""
    if st is None:
        st = _state(name)
    minors = st.minors if st is not None and st.minors else facts.minors(name)
    return ephemeral(resource=name, minors=list(minors))


def _expect(u: Undo, name: str, st: DrbdResource | None = None) -> Undo:
    """``u`` acting only on resource ``name`` as it is now (minors, boot); a dry run plans it without identity."""
    return u if _dry_run() else u.expecting(**_identity(name, st))


def _stateful_verdict(args: Mapping[str, Any], identity: Mapping[str, Any],
                      done: Callable[[DrbdResource], str | None]) -> Verdict:
    """The common identity check of DRBD undos: a reboot or a resource that is down leaves nothing to undo; a
    resource up with other minors is another one; ``done(state)`` says why it is already as the undo leaves it."""
    name = check_resource_name(args["res"])
    if not same_boot(identity):
        return already(f"DRBD resource {name} was changed before a reboot; that kernel state is gone")
    st = _state(name)
    if st is None:
        return already(f"DRBD resource {name} is not up any more")
    want = identity.get("minors")
    if want is not None and st.minors and list(st.minors) != list(want):
        return other(f"DRBD resource {name} is now up with minor(s) {_minors(st.minors)}, not "
                     f"{_minors(want)} which the step changed")
    why = done(st)
    return already(why) if why else ACT


def _minors(minors: Any) -> str:
    return ",".join(str(m) for m in minors) or "none"


def _resource_command(verb: str, res: str, ahead: Callable[[str], Undo | None] | None = None) -> str:
    """Check that ``res`` is a defined resource, journal ``ahead(name)`` (the undo, known before the command: only
    inside an atomic block, where it may read state), run ``drbdadm VERB RES``, and return the resource name."""
    name = facts.require_resource(res)
    if ahead is not None and not _dry_run():
        undo_ahead(lambda: ahead(name))
    run(facts.drbdadm(verb, name))
    return name


# --- up / down ------------------------------------------------------------------------------------------------------


def _identify_down(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Taking down (the undo of up): the resource the step brought up, in this boot, with its minors."""
    return _stateful_verdict(args, identity, lambda st: None)


def _identify_up(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Bringing up again (the undo of down): done when it is up; refused when its configuration now gives it other
    minors; after a reboot the step's effect is gone with the kernel state."""
    name = check_resource_name(args["res"])
    if not same_boot(identity):
        return already(f"DRBD resource {name} was taken down before a reboot")
    if _state(name) is not None:
        return already(f"DRBD resource {name} is up again")
    now, want = facts.minors(name), identity.get("minors")
    if want is not None and list(now) != list(want):
        return other(f"DRBD resource {name} is now configured with minor(s) {_minors(now)}, not {_minors(want)} "
                     "which the step took down")
    return ACT


def _down_undo(name: str) -> Undo:
    return _expect(undo(down, name), name)


@operation(inverse=lambda name: _down_undo(name), identify=_identify_up, effects=effects.brought_up,
           requires=["drbdadm"])
def up(res: str) -> str:
    """Bring a resource up: attach its disks and start connecting (``drbdadm up``). Returns the resource name.

    Inside an atomic block ``down`` is journalled before the command when the resource was down, so a step cut
    short is taken down again on rollback if it came up.
    """
    return _resource_command("up", res, ahead=lambda name: None if _state(name) else _down_undo(name))


def _up_undo(name: str, st: DrbdResource | None = None) -> Undo:
    return _expect(undo(up, name), name, st)


@operation(inverse=lambda name: _up_undo(name), identify=_identify_down, effects=effects.taken_down,
           requires=["drbdadm"])
def down(res: str) -> str:
    """Take a resource down: disconnect, detach, remove its devices (``drbdadm down``). Returns the name.

    Inside an atomic block ``up`` is journalled before the command (with the minors it had), so a step cut short
    is brought up again on rollback. The undo brings it up as a Secondary: a previous role is not restored.
    """
    def ahead(name: str) -> Undo | None:
        st = _state(name)
        return None if st is None else _up_undo(name, st)

    return _resource_command("down", res, ahead=ahead)


# --- primary / secondary ----------------------------------------------------------------------------------------------


def _current_role(name: str) -> DrbdResource:
    try:
        return facts.status(name)
    except ResourceDownError:
        raise ResourceDownError(f"DRBD resource {name!r} is not up; run 'bofh drbd up {name}' first") from None


def _restore_role(change: RoleChange, st: DrbdResource | None = None) -> Any:
    """Undo of a role change: go back to the previous role when it differs (Unknown is never restored)."""
    if change.previous == change.current:
        return None
    if change.previous is Role.SECONDARY:
        return _expect(undo(secondary, change.resource), change.resource, st)
    if change.previous is Role.PRIMARY:
        return _expect(undo(primary, change.resource), change.resource, st)
    return None


def _identify_primary(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Promoting back (the undo of secondary): done when it is Primary again."""
    return _stateful_verdict(args, identity, lambda st: f"DRBD resource {st.name} is Primary again"
                             if st.role is Role.PRIMARY else None)


def _identify_secondary(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Demoting back (the undo of primary): done when it is Secondary again."""
    return _stateful_verdict(args, identity, lambda st: f"DRBD resource {st.name} is Secondary again"
                             if st.role is Role.SECONDARY else None)


@operation(inverse=_restore_role, identify=_identify_primary, effects=effects.role_changed, requires=["drbdadm"])
def primary(res: str, authoritative: bool = False, *, force: bool | None = None) -> RoleChange:
    """Promote this node to Primary (``drbdadm primary [--force]``); returns the previous role for the undo.

    ``authoritative`` is DRBD's ``--force``: it promotes although the local disk is not UpToDate (the initial sync
    of a fresh resource), which makes this node's data the one the peer is synced from. It is not pybofh's
    ``force`` (which overrides a data check); ``force=`` is accepted as its deprecated old name. Inside an atomic
    block the undo (back to the previous role) is journalled before the command.
    """
    if force is not None:
        warnings.warn("drbd.primary(force=) is now authoritative=", DeprecationWarning, stacklevel=3)
        authoritative = authoritative or force
    name = facts.require_resource(res)
    st = _current_role(name)
    undo_ahead(lambda: _restore_role(RoleChange(name, st.role, Role.PRIMARY), st))
    run(facts.drbdadm("primary", *(["--force"] if authoritative else []), name))
    return RoleChange(name, st.role, Role.PRIMARY)


@operation(inverse=_restore_role, identify=_identify_secondary, effects=effects.role_changed,
           requires=["drbdadm"])
def secondary(res: str) -> RoleChange:
    """Demote this node to Secondary (``drbdadm secondary``); returns the previous role for the undo (journalled
    ahead of the command inside an atomic block)."""
    name = facts.require_resource(res)
    st = _current_role(name)
    undo_ahead(lambda: _restore_role(RoleChange(name, st.role, Role.SECONDARY), st))
    run(facts.drbdadm("secondary", name))
    return RoleChange(name, st.role, Role.SECONDARY)


# --- connect / disconnect, attach / detach ---------------------------------------------------------------------------


def _standalone(st: DrbdResource) -> bool:
    return all(c.state is ConnectionState.STANDALONE for c in st.connections)


def _diskless(st: DrbdResource) -> bool:
    return bool(st.volumes) and all(v.disk is DiskState.DISKLESS for v in st.volumes)


def _ahead_if(test: Callable[[DrbdResource], bool], make: Callable[[str, DrbdResource], Undo]) -> Callable[[str],
                                                                                                          Undo | None]:
    """An ``ahead`` for ``_resource_command()``: the undo, when the resource is up and ``test`` holds now."""
    def ahead(name: str) -> Undo | None:
        st = _state(name)
        return make(name, st) if st is not None and test(st) else None

    return ahead


def _identify_disconnect(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    return _stateful_verdict(args, identity, lambda st: f"DRBD resource {st.name} is StandAlone again"
                             if _standalone(st) else None)


def _identify_connect(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    return _stateful_verdict(args, identity, lambda st: f"DRBD resource {st.name} is connecting or connected "
                             f"again ({st.connections[0].state.value})" if not _standalone(st) else None)


def _reconnect_undo(name: str) -> Any:
    """The undo: ``disconnect`` the resource again (a def, not a lambda: mypy types a forward reference late)."""
    return _expect(undo(disconnect, name), name)


@operation(inverse=_reconnect_undo, identify=_identify_connect, effects=effects.connected, requires=["drbdadm"])
def connect(res: str) -> str:
    """Connect a resource to its peers (``drbdadm connect``); the undo (disconnect) is journalled ahead."""
    return _resource_command("connect", res, ahead=_ahead_if(
        _standalone, lambda name, st: _expect(undo(disconnect, name), name, st)))


@operation(inverse=lambda name: _expect(undo(connect, name), name), identify=_identify_disconnect,
           effects=effects.disconnected, requires=["drbdadm"])
def disconnect(res: str) -> str:
    """Disconnect a resource from its peers; it goes StandAlone (``drbdadm disconnect``). The undo (connect) is
    journalled ahead."""
    return _resource_command("disconnect", res, ahead=_ahead_if(
        lambda st: not _standalone(st), lambda name, st: _expect(undo(connect, name), name, st)))


def _identify_detach(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    return _stateful_verdict(args, identity, lambda st: f"DRBD resource {st.name} is Diskless again"
                             if _diskless(st) else None)


def _identify_attach(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    return _stateful_verdict(args, identity, lambda st: f"DRBD resource {st.name} has its disk again "
                             f"({st.volumes[0].disk.value})" if st.volumes and not _diskless(st) else None)


def _reattach_undo(name: str) -> Any:
    """The undo: ``detach`` the resource again (a def, not a lambda: mypy types a forward reference late)."""
    return _expect(undo(detach, name), name)


@operation(inverse=_reattach_undo, identify=_identify_attach, effects=effects.attached, requires=["drbdadm"])
def attach(res: str) -> str:
    """Attach the backing disks of an up resource (``drbdadm attach``); the undo (detach) is journalled ahead."""
    return _resource_command("attach", res, ahead=_ahead_if(
        _diskless, lambda name, st: _expect(undo(detach, name), name, st)))


@operation(inverse=lambda name: _expect(undo(attach, name), name), identify=_identify_detach,
           effects=effects.detached, requires=["drbdadm"])
def detach(res: str) -> str:
    """Detach the backing disks; the node goes Diskless (``drbdadm detach``). The undo (attach) is journalled
    ahead. A Diskless Primary keeps serving I/O from its peer; without a connected peer its I/O fails."""
    return _resource_command("detach", res, ahead=_ahead_if(
        lambda st: not _diskless(st), lambda name, st: _expect(undo(attach, name), name, st)))


# --- metadata, configuration, data ---------------------------------------------------------------------------------


def _md_request(res: Any, disk: Any, max_peers: Any) -> tuple[str, str | None]:
    """The checked arguments of ``create_md()``: every argument before the first (read-only) command."""
    if disk is not None:
        disk = validate_path(disk, what="backing disk", must_exist=True)
    if max_peers is not None and (isinstance(max_peers, bool) or not isinstance(max_peers, int)
                                  or not 1 <= max_peers <= 31):
        raise ValidationError(f"max_peers {max_peers!r} must be an integer from 1 to 31")
    return check_resource_name(res), disk


def _md_disks(name: str, disk: str | None) -> list[str]:
    """The backing disks create-md writes to: ``disk`` (which must be the resource's configured one) or all of
    the resource's configured disks."""
    configured = facts.backing_disks(name)
    if disk is not None and not any(same_object(disk, c) for c in configured):
        raise ValidationError(
            f"{disk} is not the backing disk of DRBD resource {name!r} (configured: {', '.join(configured) or 'none'})"
        )
    return [disk] if disk is not None else configured


def _check_create_md(args: Mapping[str, Any]) -> None:
    """create-md overwrites the end of the backing disk (internal metadata) and answers drbdmeta's "really
    overwrite?" with --force: pybofh looks first, and refuses a disk holding any signature or in use."""
    _, disk = _md_request(args["res"], args["disk"], args["max_peers"])
    name = facts.require_resource(args["res"])
    for d in _md_disks(name, disk):
        refuse_if_holds_data(d, f"writing DRBD metadata for {name} over its end (drbdadm create-md --force)")


@operation(irreversible="writes new DRBD metadata over the end of the backing disk", target="disk",
           check=_check_create_md, effects=effects.md_created, requires=["drbdadm", "drbdmeta", "wipefs", "lsblk"])
def create_md(res: str, disk: str | None = None, *, max_peers: int | None = None, force: bool = False) -> str:
    """Write fresh DRBD metadata for a resource (``drbdadm create-md --force``); returns the backing disk.

    ``disk`` names the backing device the caller means to overwrite; it must be the resource's configured disk
    (checked with ``drbdadm sh-ll-dev``). Inside an atomic block it must have been created by the same block.
    ``--force`` answers drbdmeta's confirmation, which cannot be given without a terminal — after pybofh's own
    check: a backing disk holding any signature (a filesystem, a PV, earlier DRBD metadata…) or in use (mounted,
    something stacked on it) is refused unless ``force``.
    """
    name, disk = _md_request(res, disk, max_peers)
    name = facts.require_resource(name)
    disks = _md_disks(name, disk)
    extra = [f"--max-peers={max_peers}"] if max_peers is not None else []
    run(facts.drbdadm("create-md", "--force", *extra, name))
    return disk or (disks[0] if disks else "")


@operation(irreversible="applies the configuration file to the running resource; the previous runtime settings "
                        "are not recorded", requires=["drbdadm"])
def adjust(res: str) -> str:
    """Make the running resource match its configuration file (``drbdadm adjust``)."""
    return _resource_command("adjust", res)


@operation(no_undo="online verify reads both sides and only marks differing blocks out of sync; it changes no data",
           requires=["drbdadm"])
def verify(res: str) -> str:
    """Start an online verify against the peer (``drbdadm verify``); changes no data (nothing to undo)."""
    return _resource_command("verify", res)


def _check_invalidate(args: Mapping[str, Any]) -> None:
    """Invalidating discards this node's copy: always refused without ``force``, naming what is lost."""
    name = facts.require_resource(args["res"])
    st = _state(name)
    disks = facts.backing_disks(name)
    if st is None:
        raise ResourceDownError(f"DRBD resource {name!r} is not up; there is nothing to invalidate")
    vols = ", ".join(f"{v.device or f'volume {v.number}'} ({v.disk.value})" for v in st.volumes) or "its volumes"
    peers = ", ".join(f"{c.name or 'the peer'} ({c.state.value}, peer disk "
                      f"{'/'.join(pv.peer_disk.value for pv in c.volumes) or 'unknown'})" for c in st.connections)
    raise DataAtRiskError(
        f"invalidating DRBD resource {name} discards this node's data on {vols}, backed by "
        f"{', '.join(disks) or 'its backing disk'}: every block is resynced from {peers or 'the peer'}, and what "
        f"only this node had is lost — {FORCE_HINT}"
    )


@operation(irreversible="discards this node's data; a full resync from the peer overwrites it",
           check=_check_invalidate, effects=effects.invalidated, requires=["drbdadm"])
def invalidate(res: str, force: bool = False) -> str:
    """Mark the local data invalid and resync it from the peer (``drbdadm invalidate``).

    This node's copy is discarded: refused unless ``force``, with what would be lost named.
    """
    return _resource_command("invalidate", res)


def _user_paused(st: DrbdResource) -> bool:
    return any("user" in str(pv.resync_suspended or "").split(",") for c in st.connections for pv in c.volumes)


def _identify_pause(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Pausing again (the undo of resume): done when the resync is paused by the user again."""
    return _stateful_verdict(args, identity, lambda st: f"the resync of DRBD resource {st.name} is paused again"
                             if _user_paused(st) else None)


def _identify_resume(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Resuming (the undo of pause): done when no user pause is set any more (drbdadm fails on a second resume)."""
    return _stateful_verdict(args, identity, lambda st: f"the resync of DRBD resource {st.name} is not paused any "
                             "more" if not _user_paused(st) else None)


def _resume_undo(name: str) -> Any:
    """The undo: ``resume_sync`` the resource again (a def, not a lambda: mypy types a forward reference late)."""
    return _expect(undo(resume_sync, name), name)


@operation(inverse=_resume_undo, identify=_identify_pause, effects=effects.sync_paused, requires=["drbdadm"])
def pause_sync(res: str) -> str:
    """Pause a running resync (``drbdadm pause-sync``); the undo (resume) is journalled ahead."""
    return _resource_command("pause-sync", res, ahead=_ahead_if(
        lambda st: not _user_paused(st), lambda name, st: _expect(undo(resume_sync, name), name, st)))


@operation(inverse=lambda name: _expect(undo(pause_sync, name), name), identify=_identify_resume,
           effects=effects.sync_resumed, requires=["drbdadm"])
def resume_sync(res: str) -> str:
    """Resume a paused resync (``drbdadm resume-sync``); the undo (pause) is journalled ahead."""
    return _resource_command("resume-sync", res, ahead=_ahead_if(
        _user_paused, lambda name, st: _expect(undo(pause_sync, name), name, st)))


def _resize_undo(name: str, old: int, new: int | None, minors: list[int]) -> Undo:
    """Set the size back, on the resource with these minors, while it still has the size the step gave it."""
    u = undo(resize, name, size=old)
    return u if _dry_run() else u.expecting(resource=name, minors=minors, size=new)


def _resize_back(result: ResizeResult) -> Any:
    """Undo a resize by setting the size read before it (nothing when the size did not change or was unknown)."""
    if result.old_size is None or result.old_size == result.new_size:
        return None
    return _resize_undo(result.resource, result.old_size, result.new_size, facts.minors(result.resource))


def _identify_resize(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Resizing back: done when the device has the old size again; refused when the resource is down (DRBD keeps
    the size in its metadata: it must be set back once it is up) or someone resized it since."""
    name = check_resource_name(args["res"])
    back = args["size"]
    minors = facts.minors(name)
    if identity.get("minors") is not None and list(minors) != list(identity["minors"]):
        return other(f"DRBD resource {name} now has minor(s) {_minors(minors)}, not {_minors(identity['minors'])} "
                     "which the step resized")
    if _state(name) is None:
        return other(f"DRBD resource {name} is down: its size (kept in its metadata) cannot be read or set back to "
                     f"{back} bytes until it is up")
    now = facts.device_size(f"/dev/drbd{minors[0]}") if minors else None
    if now == back:
        return already(f"DRBD resource {name} is {now} bytes again")
    if identity.get("size") is not None and now != identity["size"]:
        return other(f"DRBD resource {name} is now {now} bytes, resized since; not {identity['size']} bytes which "
                     "the step set")
    return ACT


@operation(inverse=_resize_back, identify=_identify_resize, effects=effects.resized, requires=["drbdadm"])
def resize(res: str, size: int | str | None = None, *, assume_peer_has_space: bool = False) -> ResizeResult:
    """Resize a resource's device: to its backing disk (``size=None``) or to ``size`` bytes (``--size``).

    DRBD grows past the size last agreed with the peer only while connected; ``assume_peer_has_space`` passes
    ``--assume-peer-has-space`` for a node whose peer is away. Returns the size of the first volume's device
    before and after, so the undo can set it back; a requested size the device did not reach is a DrbdError.
    When the size is given, the undo (the old size) is journalled before the command inside an atomic block.
    Shrinking cuts off what lies beyond the new size on the device: shrink its content first.
    """
    from pybofh_core.runner import get_runner

    from .errors import DrbdError

    nbytes = None if size is None else parse_size(size, what="DRBD size", minimum=SIZE_STEP, multiple_of=SIZE_STEP)
    name = facts.require_resource(res)
    minors = facts.minors(name)
    device = f"/dev/drbd{minors[0]}" if minors else None
    old = facts.device_size(device) if device else None
    if old is not None and nbytes is not None and nbytes != old:
        undo_ahead(lambda: _resize_undo(name, old, nbytes, minors))
    options = ["--assume-peer-has-space"] if assume_peer_has_space else []
    if nbytes is not None:
        options.append(f"--size={nbytes // 512}s")
    run(facts.drbdadm("--", *options, "resize", name) if options else facts.drbdadm("resize", name))
    if get_runner().dry_run:  # nothing changed: the size the plan's resize gives it (its effect plans the same)
        new = effects.planned_size(name, nbytes) if device else None
    else:
        new = facts.device_size(device) if device else None
    if nbytes is not None and new is not None and new != nbytes and not get_runner().dry_run:
        raise DrbdError(f"DRBD resource {name!r} is {size_text(new)} after resizing to {size_text(nbytes)}; "
                        "a disconnected node needs assume_peer_has_space=True to grow")
    return ResizeResult(name, old, new)


__all__ = [
    "adjust", "attach", "connect", "create_md", "detach", "disconnect", "down", "invalidate", "pause_sync",
    "primary", "resize", "resume_sync", "secondary", "up", "verify",
]
