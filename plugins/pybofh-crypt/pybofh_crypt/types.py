"""Frozen dataclasses of LUKS state: headers (``LuksDevice``), key slots, segments, active mappings, op results."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

#: Bytes per sector in every size cryptsetup prints "in sectors" (status, LUKS1 offsets), whatever the sector size.
SECTOR = 512


class LuksVersion(enum.IntEnum):
    """The on-disk LUKS header version."""

    LUKS1 = 1
    LUKS2 = 2

    @property
    def max_keyslots(self) -> int:
        """How many key slots the format has (LUKS1: 8, LUKS2: 32)."""
        return 8 if self is LuksVersion.LUKS1 else 32


@dataclass(frozen=True, slots=True)
class Keyslot:
    """One key slot of a LUKS header. Sizes are bytes; bit counts say so in their name."""

    index: int
    active: bool
    type: str | None = None  # "luks2" (LUKS2 slot type); None for LUKS1
    key_bits: int | None = None  # size of the volume key this slot unlocks
    priority: str | None = None  # LUKS2: "ignore" | "normal" | "prefer"
    cipher: str | None = None  # LUKS2: cipher of the key material area
    cipher_key_bits: int | None = None
    pbkdf: str | None = None  # "pbkdf2" | "argon2i" | "argon2id"
    hash: str | None = None  # pbkdf2 hash
    iterations: int | None = None  # pbkdf2 iterations
    time_cost: int | None = None  # argon2 time cost
    memory_kib: int | None = None  # argon2 memory cost in KiB
    threads: int | None = None  # argon2 parallel cost
    af_stripes: int | None = None
    af_hash: str | None = None
    area_offset: int | None = None  # bytes from the start of the device
    area_size: int | None = None  # bytes
    digest: int | None = None  # LUKS2 digest id this slot is bound to


@dataclass(frozen=True, slots=True)
class Segment:
    """One LUKS2 data segment: where the encrypted data lives and how it is encrypted."""

    index: int
    type: str  # "crypt" (or "linear" during reencryption)
    offset: int  # bytes from the start of the device
    size: int | None  # bytes; None = "dynamic" / "(whole device)"
    cipher: str | None
    sector_size: int | None
    integrity: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Token:
    """One LUKS2 token (e.g. ``systemd-tpm2``) and the key slots it is assigned to."""

    index: int
    type: str
    keyslots: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Digest:
    """One LUKS2 digest: verifies the volume key for the listed key slots and segments."""

    index: int
    type: str
    hash: str | None = None
    iterations: int | None = None
    keyslots: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LuksDevice:
    """A parsed LUKS header (``luksDump``): version, identity, where the data starts, key slots and segments.

    ``uuid``/``label``/``epoch`` come from the binary header and are None when parsed from the JSON metadata alone.
    """

    version: LuksVersion
    uuid: str | None
    cipher: str | None  # "aes-xts-plain64" (LUKS1: cipher name + "-" + mode; LUKS2: segment 0's encryption)
    key_bits: int | None  # volume key size
    data_offset: int  # bytes: where the encrypted payload starts (the header's overhead)
    sector_size: int  # encryption sector size in bytes (LUKS1: always 512)
    keyslots: tuple[Keyslot, ...] = ()
    segments: tuple[Segment, ...] = ()
    tokens: tuple[Token, ...] = ()
    digests: tuple[Digest, ...] = ()
    label: str | None = None
    subsystem: str | None = None
    epoch: int | None = None
    flags: tuple[str, ...] = ()
    hash: str | None = None  # LUKS1 hash spec
    metadata_size: int | None = None  # LUKS2: one metadata copy (binary header + JSON area), bytes
    keyslots_size: int | None = None  # LUKS2: the key slots area, bytes
    device: str | None = None  # LUKS1 dumps name the device they read

    @property
    def active_keyslots(self) -> tuple[int, ...]:
        """Indexes of the key slots that hold a key."""
        return tuple(k.index for k in self.keyslots if k.active)

    def free_keyslot(self) -> int | None:
        """The lowest key slot index that holds no key, or None when all are used."""
        used = set(self.active_keyslots)
        return next((i for i in range(self.version.max_keyslots) if i not in used), None)

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json`` (the version as a number)."""
        from dataclasses import asdict

        out = asdict(self)
        out["version"] = int(self.version)
        return out


@dataclass(frozen=True, slots=True)
class CryptStatus:
    """An active (or inactive) dm-crypt mapping as ``cryptsetup status`` reports it. Sizes in bytes."""

    name: str
    path: str
    active: bool
    in_use: bool = False
    type: str | None = None  # "LUKS1", "LUKS2", "PLAIN", …
    cipher: str | None = None
    key_bits: int | None = None
    key_location: str | None = None  # "keyring" | "dm-crypt" (cryptsetup 2.x)
    device: str | None = None
    loop: str | None = None  # backing file when the device is a loop device
    sector_size: int | None = None
    offset: int | None = None  # bytes of the underlying device before the data
    size: int | None = None  # bytes of the mapping
    readonly: bool | None = None
    flags: tuple[str, ...] = ()

    def __fspath__(self) -> str:
        """``/dev/mapper/NAME``."""
        return self.path


@dataclass(frozen=True, slots=True)
class DmDevice:
    """One device-mapper device as ``dmsetup info -c`` lists it (any target: crypt, LVM, multipath…).

    ``uuid`` is device-mapper's (cryptsetup's mappings: ``CRYPT-<TYPE>-<LUKS UUID without dashes>-<name>``),
    ``kname`` the kernel name (``dm-3``), ``uses`` the kernel names of the devices under it, ``open`` how many
    holders have it open.
    """

    name: str
    uuid: str | None
    kname: str
    uses: tuple[str, ...] = ()
    open: int = 0
    attr: str = ""

    @property
    def crypt_type(self) -> str | None:
        """``LUKS1``, ``LUKS2``, ``PLAIN``… for a mapping cryptsetup made, else None."""
        if not self.uuid or not self.uuid.startswith("CRYPT-"):
            return None
        return self.uuid.split("-", 2)[1] or None

    @property
    def luks_uuid(self) -> str | None:
        """The LUKS UUID of the device under a LUKS mapping (from its dm UUID), else None."""
        parts = (self.uuid or "").split("-", 3)
        hexa = parts[2] if len(parts) == 4 and parts[1].startswith("LUKS") else ""
        if len(hexa) != 32 or not all(c in "0123456789abcdef" for c in hexa):
            return None
        return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"

    @property
    def read_only(self) -> bool:
        """Whether the mapping is read-only (``r`` as fourth attr character)."""
        return self.attr[3:4] == "r"


@dataclass(frozen=True, slots=True)
class KeyFile:
    """A key file on the machine where commands run, given to cryptsetup by path (its content never enters pybofh)."""

    path: str

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class Formatted:
    """What ``format`` wrote: the device and the parameters used (computed from the arguments)."""

    device: str
    version: LuksVersion
    cipher: str
    key_bits: int
    label: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json``."""
        return {"device": self.device, "version": int(self.version), "cipher": self.cipher,
                "key_bits": self.key_bits, "label": self.label}

    def __fspath__(self) -> str:
        """The LUKS device: pass it on to crypt.open, add_key…"""
        return self.device


@dataclass(frozen=True, slots=True)
class OpenMapping:
    """An open LUKS device: mapping ``name`` at ``path`` (``/dev/mapper/NAME``) over ``device``."""

    name: str
    path: str
    device: str
    uuid: str | None = None  # the LUKS UUID of ``device``: the mapping's identity (with the boot id)

    def __fspath__(self) -> str:
        """``/dev/mapper/NAME``: pass the open mapping on to mkfs, mount…"""
        return self.path


@dataclass(frozen=True, slots=True)
class Resized:
    """A mapping resized from ``old_size`` to ``new_size`` bytes (the inverse resizes back)."""

    name: str
    old_size: int
    new_size: int | None
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class AddedKey:
    """A passphrase added to ``device`` in key slot ``slot`` (the inverse kills that slot)."""

    device: str
    slot: int
    uuid: str | None = None

    def __fspath__(self) -> str:
        """The LUKS device."""
        return self.device


@dataclass(frozen=True, slots=True)
class HeaderBackup:
    """A header backup of ``device`` written to ``file``."""

    device: str
    file: str
    uuid: str | None = None  # the LUKS UUID the backup holds


#: The former name of ``OpenMapping`` (it shadowed ``collections.abc.Mapping`` wherever both were imported).
Mapping = OpenMapping
