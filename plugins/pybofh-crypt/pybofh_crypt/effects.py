"""What crypt operations do to the planning model of a dry run (``@operation(effects=...)`` in ``ops``).

Two kinds of its own, read back by ``facts`` (``dump``/``is_luks``/``status``/``is_open``/``mapping_over``), so a
later planned step — an ``open`` of a header only planned, a ``close``, a stack resize — sees the plan's state:

- ``crypt.luks`` (``HEADER``): key the device path, value the ``LuksDevice`` a planned ``format`` writes (its UUID
  the placeholder ``<uuid of LUKS on DEVICE>``; cryptsetup's default offsets: LUKS2 16 MiB, LUKS1 2 MiB), changed
  by planned ``add_key``/``remove_key``/``header_restore``.
- ``crypt.mapping`` (``MAPPING``): key the mapping name, value the ``CryptStatus`` of a planned ``open`` (``GONE``
  after a planned ``close``); the mapping is also a ``BLOCK`` device ``/dev/mapper/NAME`` of the device's size less
  the data offset, so a later planned mkfs finds it. Passphrases never enter the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pybofh_core.model import BLOCK, Placeholder, PlanModel, PlannedDevice, placeholder
from pybofh_core.runner import device_size as runner_device_size
from pybofh_core.runner import get_runner, run
from pybofh_core.safety import SIGNATURE, Signature

from . import facts
from .checks import MAPPER, check_device, check_mapping
from .types import (
    SECTOR,
    AddedKey,
    CryptStatus,
    Formatted,
    Keyslot,
    LuksDevice,
    LuksVersion,
    OpenMapping,
    Resized,
    Segment,
)

HEADER, MAPPING = facts.HEADER, facts.MAPPING

MIB = 1024**2
#: cryptsetup 2.x's layout of a new header with default options (see the recorded luksDump outputs): LUKS2 keeps two
#: 16 KiB metadata copies and a key slots area up to 16 MiB, where the data starts; LUKS1's header and eight key
#: slots (up to 512-bit keys) are aligned up to 2 MiB (payload offset 4096 sectors).
LUKS2_DATA_OFFSET = 16 * MIB
LUKS2_METADATA_SIZE = 16 * 1024
LUKS1_DATA_OFFSET = 2 * MIB


def uuid_placeholder(device: str) -> Placeholder:
    """The placeholder of the LUKS UUID a planned ``format`` gives ``device`` (``<uuid of LUKS on /dev/vg/lv>``)."""
    return placeholder(f"uuid of LUKS on {device}")


def device_size(device: str) -> int:
    """The size of ``device`` in bytes (``pybofh_core.runner.device_size``: planned, else read where commands run);
    an image file's from ``stat`` (cryptsetup opens it through a loop device)."""
    if get_runner().path_kind(device) == "file":
        return int(run(["stat", "-L", "-c", "%s", "--", device], readonly=True).text.strip())
    return runner_device_size(device)


def formatted(model: PlanModel, result: Formatted, args: Mapping[str, Any]) -> None:
    """``format``: a LUKS header on the device, one key in slot 0, the data at cryptsetup's default offset."""
    luks2 = result.version is LuksVersion.LUKS2
    offset = LUKS2_DATA_OFFSET if luks2 else LUKS1_DATA_OFFSET
    sector = int(args.get("sector_size") or _settings().sector_size or SECTOR) if luks2 else SECTOR
    pbkdf = str(args.get("pbkdf") or _settings().pbkdf) if luks2 else "pbkdf2"
    slot = Keyslot(0, True, type="luks2" if luks2 else None, key_bits=result.key_bits, pbkdf=pbkdf.lower())
    segments = (Segment(0, "crypt", offset, None, result.cipher, sector),) if luks2 else ()
    model.put(HEADER, result.device, LuksDevice(
        version=result.version, uuid=uuid_placeholder(result.device), cipher=result.cipher, key_bits=result.key_bits,
        data_offset=offset, sector_size=sector, keyslots=(slot,), segments=segments, label=result.label,
        metadata_size=LUKS2_METADATA_SIZE if luks2 else None,
        keyslots_size=offset - 2 * LUKS2_METADATA_SIZE if luks2 else None,
        device=None if luks2 else result.device))
    # what the data checks of later planned steps see on the device (a mkfs there would be refused, as in the run)
    model.put(SIGNATURE, result.device, Signature("crypto_LUKS", 0, uuid_placeholder(result.device), result.label))


def opened(model: PlanModel, result: OpenMapping, args: Mapping[str, Any]) -> None:
    """``open``: the mapping (as ``cryptsetup status`` would show it) and its block device ``/dev/mapper/NAME``."""
    header = facts.dump(result.device)
    size = max(0, device_size(result.device) - header.data_offset)
    luks2 = header.version is LuksVersion.LUKS2
    keyring = luks2 and (_settings().keyring if args.get("keyring") is None else bool(args["keyring"]))
    model.put(MAPPING, result.name, CryptStatus(
        name=result.name, path=result.path, active=True, type=f"LUKS{int(header.version)}", cipher=header.cipher,
        key_bits=header.key_bits, key_location="keyring" if keyring else "dm-crypt", device=result.device,
        sector_size=header.sector_size, offset=header.data_offset, size=size, readonly=bool(args.get("readonly")),
        flags=("discards",) if args.get("allow_discards") else ()))
    # a header only planned holds nothing yet; a real one holds data a dry run cannot read without opening it
    sealed = None if facts.planned(HEADER, result.device) is not None else f"what LUKS on {result.device} holds"
    model.put(BLOCK, result.path, PlannedDevice(result.path, size, sealed))


def _settings() -> Any:
    from pybofh_core.session import get_settings

    return get_settings().crypt


def closed(model: PlanModel, result: Any, args: Mapping[str, Any]) -> None:
    """``close``: the mapping and its block device are gone."""
    name = check_mapping(args["name"])
    model.remove(MAPPING, name)
    model.remove(BLOCK, MAPPER + name)


def filled_size(st: CryptStatus) -> int | None:
    """The size mapping ``st`` has once resized to fill its device (the device less the data offset)."""
    return device_size(st.device) - (st.offset or 0) if st.device else st.size


def resized(model: PlanModel, result: Resized, args: Mapping[str, Any]) -> None:
    """``resize``: the mapping (and its block device) has its new size."""
    st = facts.status(result.name)
    size = result.new_size if result.new_size is not None else filled_size(st)
    if size is None:
        return
    model.put(MAPPING, result.name, dataclasses.replace(st, size=size))
    model.resize_device(size, st.path)


def key_added(model: PlanModel, result: AddedKey, args: Mapping[str, Any]) -> None:
    """``add_key``: the header has a key in the slot."""
    header = facts.dump(result.device)
    luks2 = header.version is LuksVersion.LUKS2
    pbkdf = str(args.get("pbkdf") or _settings().pbkdf) if luks2 else "pbkdf2"
    slots = tuple(k for k in header.keyslots if k.index != result.slot)
    new = Keyslot(result.slot, True, type="luks2" if luks2 else None, key_bits=header.key_bits, pbkdf=pbkdf.lower())
    model.put(HEADER, result.device, dataclasses.replace(
        header, keyslots=tuple(sorted((*slots, new), key=lambda k: k.index))))


def key_removed(model: PlanModel, result: Any, args: Mapping[str, Any]) -> None:
    """``remove_key``: the slot is empty."""
    device, slot = check_device(args["device"]), args["slot"]
    header = facts.dump(device)
    model.put(HEADER, device, dataclasses.replace(
        header, keyslots=tuple(k for k in header.keyslots if k.index != slot)))


def header_restored(model: PlanModel, result: Any, args: Mapping[str, Any]) -> None:
    """``header_restore``: the device holds the backup's header (its UUID, key slots and offsets)."""
    model.put(HEADER, check_device(args["device"]), facts.dump(str(args["file"])))


__all__ = ["HEADER", "MAPPING", "closed", "device_size", "filled_size", "formatted", "header_restored", "key_added",
           "key_removed", "opened", "resized", "uuid_placeholder"]
