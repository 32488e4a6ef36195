"""Data checks: what a device or directory holds, asked by pybofh itself before anything that could destroy or hide it.

Operations declare these in ``@operation(check=...)``; the core runs the check unless ``force=True`` was passed, the
target was made by the same atomic block, or the operation runs as an identified undo. A refusal is a
``DataAtRiskError`` (exit 2: nothing ran) that names what was found and how to override it.

Signatures come from ``wipefs --no-act --json`` (every signature, not only the first one blkid reports), mounts and
holders (device-mapper devices, partitions stacked on the device) from ``lsblk --tree``; both run where commands run.

In a dry run the planning model answers for what the plan made: a device a planned step made (a ``BLOCK`` entry —
an LV, a LUKS mapping, a loop device) does not exist yet, so no command is run on it; it holds only the signature a
planned step wrote on it (kind ``SIGNATURE``: a planned mkfs, say), and nothing is mounted on it or stacked on it
as far as these checks can tell (the operations that mount or stack check their own planned state). A planned
signature on a real device is what ``signatures()`` answers for it too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import DataAtRiskError, ParseError
from .model import BLOCK, GONE
from .runner import get_runner

FORCE_HINT = "pass --force (force=True) to go ahead anyway"
PARTITION_TABLES = ("dos", "gpt", "PMBR", "atari", "bsd", "mac", "sgi", "sun", "aix", "amiga")

#: Directories nothing may be mounted on without ``force`` (a mount there hides the running system).
SYSTEM_DIRS = ("/", "/etc", "/usr", "/boot", "/proc", "/sys", "/dev", "/run", "/var", "/bin", "/sbin", "/lib",
               "/lib64")


@dataclass(frozen=True, slots=True)
class Signature:
    """One on-disk signature: a filesystem, LUKS header, LVM PV label, partition table, RAID member…"""

    type: str
    offset: int
    uuid: str | None = None
    label: str | None = None

    def __str__(self) -> str:
        extra = ", ".join(x for x in (f"UUID {self.uuid}" if self.uuid else "",
                                      f"label {self.label!r}" if self.label else "") if x)
        name = f"a {self.type} partition table" if self.type in PARTITION_TABLES else self.type
        return name + (f" ({extra})" if extra else "")


@dataclass(frozen=True, slots=True)
class Content:
    """What a block device holds: its signatures, where it is mounted, and what is stacked on it."""

    device: str
    signatures: tuple[Signature, ...] = ()
    mountpoints: tuple[str, ...] = ()
    holders: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing found: no signature, no mount, nothing stacked on it."""
        return not (self.signatures or self.mountpoints or self.holders)

    @property
    def in_use(self) -> bool:
        """Mounted, or something (a mapping, a partition, an LV) is stacked on it."""
        return bool(self.mountpoints or self.holders)

    def describe(self) -> str:
        """``ext4 (UUID …), mounted on /srv, held by /dev/mapper/x`` — what a refusal names."""
        names = list(dict.fromkeys(map(str, self.signatures)))  # LUKS2 and btrfs keep copies of their header
        parts = [", ".join(names)] if names else []
        if self.mountpoints:
            parts.append(f"mounted on {', '.join(self.mountpoints)}")
        if self.holders:
            parts.append(f"in use by {', '.join(self.holders)}")
        return "; ".join(parts) or "nothing"


#: The planning model's kind of what a planned step wrote on a device (a filesystem, a LUKS header, a PV label): key
#: the device path, value the ``Signature`` (it replaces what the device held; ``GONE``: a planned wipe). Any plugin's
#: effects may put it; the data checks below read it in a dry run.
SIGNATURE = "signature"


def planned_device(device: str) -> bool:
    """Whether ``device`` is a block device only a planned step made (a dry run's ``BLOCK`` entry): it does not
    exist where commands run, so nothing may be asked of it there."""
    model = get_runner().model
    if model is None:
        return False
    found = model.get(BLOCK, device)
    return found is not None and found is not GONE


def _planned_signatures(device: str) -> tuple[Signature, ...] | None:
    """In a dry run, the signature a planned step left on ``device`` (none on a planned device that got none);
    None when the system has to be asked."""
    model = get_runner().model
    if model is None:
        return None
    found = model.get(SIGNATURE, device)
    if found is GONE:
        return ()
    if isinstance(found, Signature):
        return (found,)
    return () if planned_device(device) else None


def signatures(device: str) -> tuple[Signature, ...]:
    """Every signature ``wipefs`` finds on ``device`` (read-only); in a dry run, as the planned steps leave it."""
    planned = _planned_signatures(device)
    if planned is not None:
        return planned
    res = get_runner().run(["wipefs", "--no-act", "--json", "--", device], readonly=True)
    if not res.stdout.strip():
        return ()
    try:
        data = json.loads(res.text)
        out = []
        for sig in data.get("signatures", []):
            offset = sig.get("offset", 0)
            out.append(Signature(str(sig.get("type") or "unknown"),
                                 int(offset, 16) if isinstance(offset, str) else int(offset or 0),
                                 sig.get("uuid") or None, sig.get("label") or None))
        return tuple(out)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ParseError("wipefs", str(exc), res.text, "wipefs --no-act --json") from None


def _walk(node: dict[str, Any], depth: int, mounts: list[str], holders: list[str]) -> None:
    for mp in node.get("mountpoints") or ([node["mountpoint"]] if node.get("mountpoint") else []):
        if mp:
            mounts.append(mp)
    for child in node.get("children") or []:
        holders.append(f"{child.get('path') or child.get('name')} ({child.get('type') or 'device'})")
        _walk(child, depth + 1, mounts, holders)


def usage(device: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Where ``device`` (or anything stacked on it) is mounted, and what is stacked on it, from one ``lsblk``.

    An image file's users are the loop devices attached to it (``losetup -j``) and whatever is stacked on those.
    A device only a planned step made has none known here (nothing is asked of it).
    """
    if planned_device(device):
        return (), ()
    runner = get_runner()
    info = runner.stat(device)
    mounts: list[str] = []
    holders: list[str] = []
    if info is not None and info.kind == "file":
        res = runner.run(["losetup", "--list", "--json", "-O", "NAME", "-j", device], readonly=True)
        try:
            loops = [d["name"] for d in (json.loads(res.text).get("loopdevices", []) if res.text.strip() else [])]
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise ParseError("losetup", str(exc), res.text, "losetup --list --json -j") from None
        holders += [f"{loop} (loop)" for loop in loops]
        for loop in loops:
            m, h = usage(loop)
            mounts += m
            holders += h
        return tuple(dict.fromkeys(mounts)), tuple(dict.fromkeys(holders))
    res = runner.run(["lsblk", "--json", "--bytes", "--tree", "-o", "PATH,TYPE,MOUNTPOINTS", "--", device],
                     readonly=True)
    try:
        data = json.loads(res.text)
        for node in data.get("blockdevices", []):
            _walk(node, 0, mounts, holders)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ParseError("lsblk", str(exc), res.text, "lsblk --json --tree") from None
    return tuple(dict.fromkeys(mounts)), tuple(dict.fromkeys(holders))


def inspect(device: str) -> Content:
    """Signatures, mounts and holders of ``device`` (two read-only commands)."""
    mounts, holders = usage(device)
    return Content(device, signatures(device), mounts, holders)


def refuse_if_holds_data(device: str, action: str, *, ignore: tuple[str, ...] = ()) -> Content:
    """Raise ``DataAtRiskError`` when ``device`` holds anything (signature types in ``ignore`` aside).

    ``action`` completes "… would destroy it", e.g. ``"formatting it as LUKS"``.
    """
    content = inspect(device)
    kept = tuple(s for s in content.signatures if s.type not in ignore)
    found = Content(device, kept, content.mountpoints, content.holders)
    if not found.empty:
        raise DataAtRiskError(f"{device} already contains {found.describe()}; {action} would destroy it — "
                              f"{FORCE_HINT}")
    return content


def content_extent(device: str) -> int | None:
    """Bytes at the start of ``device`` its content needs (header plus the content's own size), 0 when it holds
    nothing, None when no installed plugin can tell (a closed LUKS volume, xfs, an unknown signature).

    Asks the ``pybofh_probe_layer`` hook, so every installed plugin's layer (LUKS, PV, filesystems) answers.
    """
    from .session import get_plugins

    if planned_device(device):  # nothing to ask blkid: empty, or holding what a planned step wrote (size unknown)
        return None if signatures(device) else 0
    runner = get_runner()
    res = runner.run(["blkid", "-p", "-o", "export", "--", device], readonly=True, check=False)
    probe: dict[str, str] = {}
    if res.returncode == 0:
        for line in res.text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key != "DEVNAME":
                probe[key] = value
    elif res.returncode != 2:  # 2 = nothing found
        return None
    if not probe and not signatures(device):
        return 0
    layer = get_plugins().pm.hook.pybofh_probe_layer(device=device, probe=probe)
    if layer is None:
        return None
    size = layer.current_size()
    if size is None:
        return None
    return int(layer.overhead) + int(size)


def refuse_shrink(device: str, new_size: int, what: str, how: str) -> None:
    """Raise ``DataAtRiskError`` unless ``device``'s content is known to fit in ``new_size`` bytes.

    ``what`` names the object (``LV vg0/data``), ``how`` the stack-aware way to shrink it with its content.
    """
    from .validate import size_text

    need = content_extent(device)
    if need is not None and need <= new_size:
        return
    content = inspect(device)
    found = content.describe() if not content.empty else "content pybofh cannot measure"
    if need is None:
        why = f"it holds {found}, whose size pybofh cannot tell"
    else:
        why = f"its content ({found}) needs {size_text(need)}"
    raise DataAtRiskError(
        f"shrinking {what} to {size_text(new_size)} would cut off data: {why}; "
        f"shrink the content first ({how}), or {FORCE_HINT}"
    )


def refuse_mountpoint(path: str, resolved: str) -> None:
    """Raise ``DataAtRiskError`` when mounting on ``resolved`` (``path`` with symlinks resolved) would hide
    the running system (a system directory) or files (a non-empty directory)."""
    via = f" ({path} resolves to it)" if resolved != path else ""
    if (resolved.rstrip("/") or "/") in SYSTEM_DIRS:
        raise DataAtRiskError(f"{resolved}{via} is a system directory; mounting on it would hide the running "
                              f"system — {FORCE_HINT}")
    res = get_runner().run(["find", resolved, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit"],
                           readonly=True, check=False)
    if res.returncode == 0 and res.text.strip():
        raise DataAtRiskError(f"mountpoint {resolved}{via} is not empty (it holds {res.text.strip()}); mounting "
                              f"on it would hide its files — {FORCE_HINT}")


def directory_is_empty(path: str) -> bool:
    """Whether directory ``path`` has no entries (asked where commands run)."""
    res = get_runner().run(["find", path, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit"], readonly=True)
    return not res.text.strip()


__all__ = ["SIGNATURE", "Content", "Signature", "content_extent", "inspect", "planned_device", "refuse_if_holds_data",
           "refuse_mountpoint", "refuse_shrink", "signatures", "usage"]
