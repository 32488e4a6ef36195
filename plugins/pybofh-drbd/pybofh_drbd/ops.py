"""DRBD operations through ``drbdadm``, each with its inverse right beside it (or the reason it has none).

Every operation validates the resource name and checks that this host's configuration defines it
(``drbdadm sh-resources``, read-only) before the first mutating command. The argv forms are the ones both
drbdadm 9 and the 8.4 drbdadm shipped with drbd-utils 9 accept (checked with ``drbdadm -d``).
"""

from __future__ import annotations

from typing import Any

from pybofh_core import operation, undo
from pybofh_core.errors import ValidationError
from pybofh_core.operations import same_object
from pybofh_core.runner import run
from pybofh_core.validate import parse_size, validate_path

from . import facts
from .errors import ResourceDownError
from .types import ResizeResult, Role, RoleChange

SIZE_STEP = 4096  # DRBD sizes devices in 4 KiB bitmap blocks


def _resource_command(verb: str, res: str) -> str:
    """Check that ``res`` is a defined resource, run ``drbdadm VERB RES``, and return the resource name."""
    name = facts.require_resource(res)
    run(facts.drbdadm(verb, name))
    return name


# --- up / down ------------------------------------------------------------------------------------------------------


@operation(inverse=lambda res: undo(down, res), requires=["drbdadm"])
def up(res: str) -> str:
    """Bring a resource up: attach its disks and start connecting (``drbdadm up``). Returns the resource name."""
    return _resource_command("up", res)


@operation(inverse=lambda res: undo(up, res), requires=["drbdadm"])
def down(res: str) -> str:
    """Take a resource down: disconnect, detach, remove its devices (``drbdadm down``). Returns the name."""
    return _resource_command("down", res)


# --- primary / secondary ----------------------------------------------------------------------------------------------


def _current_role(name: str) -> Role:
    try:
        return facts.status(name).role
    except ResourceDownError:
        raise ResourceDownError(f"DRBD resource {name!r} is not up; run 'bofh drbd up {name}' first") from None


def _restore_role(change: RoleChange) -> Any:
    """Undo of a role change: go back to the previous role when it differs (Unknown is never restored)."""
    if change.previous == change.current:
        return None
    if change.previous is Role.SECONDARY:
        return undo(secondary, change.resource)
    if change.previous is Role.PRIMARY:
        return undo(primary, change.resource)
    return None


@operation(inverse=_restore_role, requires=["drbdadm"])
def primary(res: str, force: bool = False) -> RoleChange:
    """Promote this node to Primary (``drbdadm primary [--force]``); returns the previous role for the undo.

    ``force`` promotes although the local disk is not UpToDate (the initial sync of a fresh resource).
    """
    name = facts.require_resource(res)
    previous = _current_role(name)
    run(facts.drbdadm("primary", *(["--force"] if force else []), name))
    return RoleChange(name, previous, Role.PRIMARY)


@operation(inverse=_restore_role, requires=["drbdadm"])
def secondary(res: str) -> RoleChange:
    """Demote this node to Secondary (``drbdadm secondary``); returns the previous role for the undo."""
    name = facts.require_resource(res)
    previous = _current_role(name)
    run(facts.drbdadm("secondary", name))
    return RoleChange(name, previous, Role.SECONDARY)


# --- connect / disconnect, attach / detach ---------------------------------------------------------------------------


@operation(inverse=lambda res: undo(disconnect, res), requires=["drbdadm"])
def connect(res: str) -> str:
    """Connect a resource to its peers (``drbdadm connect``)."""
    return _resource_command("connect", res)


@operation(inverse=lambda res: undo(connect, res), requires=["drbdadm"])
def disconnect(res: str) -> str:
    """Disconnect a resource from its peers; it goes StandAlone (``drbdadm disconnect``)."""
    return _resource_command("disconnect", res)


@operation(inverse=lambda res: undo(detach, res), requires=["drbdadm"])
def attach(res: str) -> str:
    """Attach the backing disks of an up resource (``drbdadm attach``)."""
    return _resource_command("attach", res)


@operation(inverse=lambda res: undo(attach, res), requires=["drbdadm"])
def detach(res: str) -> str:
    """Detach the backing disks; the node goes Diskless (``drbdadm detach``)."""
    return _resource_command("detach", res)


# --- metadata, configuration, data ---------------------------------------------------------------------------------


@operation(irreversible="writes new DRBD metadata over the end of the backing disk", target="disk",
           requires=["drbdadm", "drbdmeta"])
def create_md(res: str, disk: str | None = None, *, max_peers: int | None = None) -> str:
    """Write fresh DRBD metadata for a resource (``drbdadm create-md --force``); returns the backing disk.

    ``disk`` names the backing device the caller means to overwrite; it must be the resource's configured disk
    (checked with ``drbdadm sh-ll-dev``). Inside an atomic block it must have been created by the same block.
    ``--force`` answers drbdmeta's confirmation, which cannot be given without a terminal.
    """
    if disk is not None:  # every argument is checked before the first (read-only) command
        disk = validate_path(disk, what="backing disk", must_exist=True)
    if max_peers is not None and (isinstance(max_peers, bool) or not isinstance(max_peers, int)
                                  or not 1 <= max_peers <= 31):
        raise ValidationError(f"max_peers {max_peers!r} must be an integer from 1 to 31")
    name = facts.require_resource(res)
    configured = facts.backing_disks(name)
    if disk is not None and not any(same_object(disk, c) for c in configured):
        raise ValidationError(
            f"{disk} is not the backing disk of DRBD resource {name!r} (configured: {', '.join(configured) or 'none'})"
        )
    extra = [f"--max-peers={max_peers}"] if max_peers is not None else []
    run(facts.drbdadm("create-md", "--force", *extra, name))
    return disk or (configured[0] if configured else "")


@operation(irreversible="applies the configuration file to the running resource; the previous runtime settings "
                        "are not recorded", requires=["drbdadm"])
def adjust(res: str) -> str:
    """Make the running resource match its configuration file (``drbdadm adjust``)."""
    return _resource_command("adjust", res)


def _nothing_to_undo(_result: Any) -> None:
    """Online verify reads both sides and only marks differing blocks out of sync: no data changes to undo."""
    return None


@operation(inverse=_nothing_to_undo, requires=["drbdadm"])
def verify(res: str) -> str:
    """Start an online verify against the peer (``drbdadm verify``); changes no data (nothing to undo)."""
    return _resource_command("verify", res)


@operation(irreversible="discards this node's data; a full resync from the peer overwrites it", requires=["drbdadm"])
def invalidate(res: str) -> str:
    """Mark the local data invalid and resync it from the peer (``drbdadm invalidate``)."""
    return _resource_command("invalidate", res)


@operation(inverse=lambda res: undo(resume_sync, res), requires=["drbdadm"])
def pause_sync(res: str) -> str:
    """Pause a running resync (``drbdadm pause-sync``)."""
    return _resource_command("pause-sync", res)


@operation(inverse=lambda res: undo(pause_sync, res), requires=["drbdadm"])
def resume_sync(res: str) -> str:
    """Resume a paused resync (``drbdadm resume-sync``)."""
    return _resource_command("resume-sync", res)


def _resize_back(result: ResizeResult) -> Any:
    """Undo a resize by setting the size read before it (nothing when the size did not change or was unknown)."""
    if result.old_size is None or result.old_size == result.new_size:
        return None
    return undo(resize, result.resource, size=result.old_size)


@operation(inverse=_resize_back, requires=["drbdadm"])
def resize(res: str, size: int | str | None = None, *, assume_peer_has_space: bool = False) -> ResizeResult:
    """Resize a resource's device: to its backing disk (``size=None``) or to ``size`` bytes (``--size``).

    DRBD grows past the size last agreed with the peer only while connected; ``assume_peer_has_space`` passes
    ``--assume-peer-has-space`` for a node whose peer is away. Returns the size of the first volume's device
    before and after, so the undo can set it back; a requested size the device did not reach is a DrbdError.
    """
    from pybofh_core.runner import get_runner

    from .errors import DrbdError

    nbytes = None if size is None else parse_size(size, what="DRBD size", minimum=SIZE_STEP, multiple_of=SIZE_STEP)
    name = facts.require_resource(res)
    minors = facts.minors(name)
    device = f"/dev/drbd{minors[0]}" if minors else None
    old = facts.device_size(device) if device else None
    options = ["--assume-peer-has-space"] if assume_peer_has_space else []
    if nbytes is not None:
        options.append(f"--size={nbytes // 512}s")
    run(facts.drbdadm("--", *options, "resize", name) if options else facts.drbdadm("resize", name))
    new = facts.device_size(device) if device else None
    if nbytes is not None and new is not None and new != nbytes and not get_runner().dry_run:
        raise DrbdError(f"DRBD resource {name!r} is {new} bytes after resizing to {nbytes}; "
                        "a disconnected node needs assume_peer_has_space=True to grow")
    return ResizeResult(name, old, new)


__all__ = [
    "adjust", "attach", "connect", "create_md", "detach", "disconnect", "down", "invalidate", "pause_sync",
    "primary", "resize", "resume_sync", "secondary", "up", "verify",
]
