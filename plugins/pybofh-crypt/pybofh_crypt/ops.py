"""Operations on LUKS devices, each with its inverse (or why it has none) right beside it.

Passphrases reach cryptsetup only on stdin (``--key-file=-``, or one line each for ``luksAddKey``) or, for a new
key that cannot travel as a line, as ``/dev/fd/N`` of an in-memory file (``SecretFile``):
never in a file on any filesystem, so a ``kill -9`` leaves nothing to find. Every passphrase argument is wrapped in a
``Secret`` before the atomic block journals the call, so it never reaches argv, the
environment, logs, the journal or error text.

Formatting over any signature, and restoring a header over another LUKS volume or data, are refused unless
``force``. Undos name their object by the LUKS UUID (mappings also by boot id: they do not survive a reboot).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping as MappingT
from dataclasses import dataclass, replace
from typing import Any

from pybofh_core.errors import DataAtRiskError, NotFoundError, ValidationError
from pybofh_core.identity import ACT, Verdict, already, ephemeral, other, same_boot
from pybofh_core.operations import operation, undo, undo_ahead
from pybofh_core.runner import get_runner, run
from pybofh_core.safety import FORCE_HINT, refuse_if_holds_data, refuse_shrink
from pybofh_core.secret import Secret, SecretFile
from pybofh_core.validate import PathArg, parse_size, validate_path

from . import effects, facts
from ._cmd import cryptsetup, key_args
from .checks import MAPPER, check_device, check_key, check_mapping, line_safe
from .types import SECTOR, AddedKey, Formatted, HeaderBackup, KeyFile, LuksVersion, OpenMapping, Resized

_CIPHER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:()_,.+-]*$")
_PBKDFS = ("argon2id", "argon2i", "pbkdf2")


def _settings() -> Any:
    from pybofh_core.session import get_settings

    return get_settings().crypt


def _luks_type(value: str | None) -> LuksVersion:
    kind = (value or _settings().luks_type).lower()
    if kind not in ("luks1", "luks2"):
        raise ValidationError(f"LUKS type: {kind!r} is not luks1 or luks2")
    return LuksVersion.LUKS1 if kind == "luks1" else LuksVersion.LUKS2


def _pbkdf_args(version: LuksVersion, pbkdf: str | None) -> list[str]:
    """PBKDF options for a new key slot, from the arguments and the ``crypt`` settings."""
    cfg = _settings()
    out: list[str] = []
    if version is LuksVersion.LUKS1:
        if pbkdf not in (None, "pbkdf2"):
            raise ValidationError(f"pbkdf: LUKS1 key slots always use pbkdf2, not {pbkdf!r}")
        kind = "pbkdf2"
    else:
        kind = (pbkdf or cfg.pbkdf).lower()
        if kind not in _PBKDFS:
            raise ValidationError(f"pbkdf: {kind!r} is not one of {', '.join(_PBKDFS)}")
        out += ["--pbkdf", kind]
        if kind != "pbkdf2":
            if cfg.pbkdf_memory is not None:
                out += ["--pbkdf-memory", str(_positive(cfg.pbkdf_memory, "crypt.pbkdf_memory"))]
            if cfg.pbkdf_parallel is not None:
                out += ["--pbkdf-parallel", str(_positive(cfg.pbkdf_parallel, "crypt.pbkdf_parallel"))]
    if cfg.pbkdf_force_iterations is not None:
        out += ["--pbkdf-force-iterations", str(_positive(cfg.pbkdf_force_iterations, "crypt.pbkdf_force_iterations"))]
    elif cfg.iter_time is not None:
        out += ["--iter-time", str(_positive(cfg.iter_time, "crypt.iter_time"))]
    return out


def _positive(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(f"{what}: {value!r} is not a positive integer")
    return value


def _label(value: str | None, version: LuksVersion) -> list[str]:
    if value is None:
        return []
    if version is LuksVersion.LUKS1:
        raise ValidationError("label: LUKS1 headers have no label; use luks_type='luks2'")
    if not isinstance(value, str) or not value or len(value.encode()) > 47 or re.search(r"[\x00-\x1f\x7f]", value):
        raise ValidationError(f"label: {value!r} must be 1 to 47 bytes without control characters")
    return ["--label", value]


# --- identities ------------------------------------------------------------------------------------------------------


def _mapper(name: Any) -> str:
    """The lock key of a mapping, whether given as ``NAME`` or ``/dev/mapper/NAME``."""
    text = str(name)
    return text if text.startswith(MAPPER) else MAPPER + text


def _luks_uuid(device: str) -> str | None:
    """The LUKS UUID of ``device`` (None: it holds no LUKS header, or it is gone)."""
    if get_runner().stat(device) is None or not facts.is_luks(device):
        return None
    return facts.dump(device).uuid


def _identify_mapping(args: MappingT[str, Any], identity: MappingT[str, Any]) -> Verdict:
    """A mapping is the step's if, in the same boot, it is open over the LUKS volume with the recorded UUID."""
    name = check_mapping(args["name"])
    if not same_boot(identity):
        return already(f"mapping {name} was opened before a reboot")
    if not facts.is_open(name):
        return already(f"mapping {name} is not open any more")
    st = facts.status(name)
    now = _luks_uuid(st.device) if st.device else None
    if identity.get("uuid") and now != identity["uuid"]:
        return other(f"mapping {name} is now open over {st.device} (LUKS {now}), not LUKS {identity['uuid']}")
    return ACT


def _identify_luks(args: MappingT[str, Any], identity: MappingT[str, Any]) -> Verdict:
    """A LUKS volume is the step's if ``device`` holds the recorded LUKS UUID."""
    device = str(args["device"])
    now = _luks_uuid(device)
    if now is None:
        return already(f"{device} holds no LUKS header any more")
    if identity.get("uuid") and now != identity["uuid"]:
        return other(f"{device} now holds LUKS {now}, not {identity['uuid']}")
    return ACT


def _identify_key(args: MappingT[str, Any], identity: MappingT[str, Any]) -> Verdict:
    """Removing a key the step added: done when its slot is empty again."""
    verdict = _identify_luks(args, identity)
    if verdict.action == "act" and args["slot"] not in facts.dump(str(args["device"])).active_keyslots:
        return already(f"key slot {args['slot']} of {args['device']} is empty")
    return verdict


def _identify_backup(args: MappingT[str, Any], identity: MappingT[str, Any]) -> Verdict:
    """A header backup file is the step's if it is the same file (inode) holding the same LUKS UUID."""
    file = str(args["file"])
    info = get_runner().stat(file)
    if info is None:
        return already(f"header backup {file} is gone")
    if identity.get("inode") and f"{info.dev}:{info.ino}" != identity["inode"]:
        return other(f"{file} is another file now (inode {info.dev}:{info.ino}, the step's was {identity['inode']})")
    return _identify_luks({"device": file}, identity)


# --- format ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FormatRequest:
    device: str
    key: Secret | KeyFile
    version: LuksVersion
    cipher: str
    bits: int
    args: list[str]


def _format_request(device: Any, passphrase: Any, luks_type: str | None, cipher: str | None, key_size: int | None,
                    pbkdf: str | None, label: str | None, sector_size: int | None) -> _FormatRequest:
    """Every argument of ``format()`` checked, and its luksFormat options (no command runs)."""
    device = check_device(device)
    key = check_key(passphrase)
    version = _luks_type(luks_type)
    cfg = _settings()
    cipher = cipher or cfg.cipher
    if not isinstance(cipher, str) or not _CIPHER.match(cipher):
        raise ValidationError(f"cipher: {cipher!r} is not a cipher specification like aes-xts-plain64")
    bits = _positive(key_size if key_size is not None else cfg.key_size, "key size")
    if bits % 8:
        raise ValidationError(f"key size: {bits} bits is not a whole number of bytes")
    if not re.match(r"^[a-z0-9-]+$", cfg.hash):
        raise ValidationError(f"crypt.hash: {cfg.hash!r} is not a hash name")
    args = ["luksFormat", "--batch-mode", "--type", f"luks{int(version)}", "--cipher", cipher, "--key-size", str(bits),
            "--hash", cfg.hash, *_pbkdf_args(version, pbkdf), *_label(label, version)]
    sector = sector_size if sector_size is not None else cfg.sector_size
    if sector is not None:
        if version is LuksVersion.LUKS1:
            raise ValidationError("sector size: LUKS1 always uses 512-byte sectors; use luks_type='luks2'")
        if sector not in (512, 1024, 2048, 4096):
            raise ValidationError(f"sector size: {sector!r} is not 512, 1024, 2048 or 4096")
        args += ["--sector-size", str(sector)]
    return _FormatRequest(device, key, version, cipher, bits, args)


def _check_format(args: MappingT[str, Any]) -> None:
    """luksFormat destroys whatever the device holds (cryptsetup would ask; pybofh checks itself first)."""
    req = _format_request(args["device"], args["passphrase"], args["luks_type"], args["cipher"], args["key_size"],
                          args["pbkdf"], args["label"], args["sector_size"])
    refuse_if_holds_data(req.device, "formatting it as LUKS")


@operation(secrets=("passphrase",),
           irreversible="writes a new LUKS header: the device's current data becomes unreadable", target="device",
           aliases=["create_encrypted", "luks_format"], requires=["cryptsetup"], check=_check_format,
           effects=effects.formatted)
def format(  # noqa: A001 - the issue names it crypt.format
    device: PathArg,
    passphrase: Any,
    *,
    luks_type: str | None = None,
    cipher: str | None = None,
    key_size: int | None = None,
    pbkdf: str | None = None,
    label: str | None = None,
    sector_size: int | None = None,
    force: bool = False,
) -> Formatted:
    """Write a LUKS1/LUKS2 header on ``device`` whose first key slot opens with ``passphrase`` (Secret or KeyFile).

    Refused, unless ``force`` (or the device was made by the same atomic block), when the device holds any signature
    — a filesystem, an older LUKS header, a PV, a partition table — or is in use. Unset parameters come from the
    ``crypt`` settings (``luks_type``, ``cipher``, ``key_size``, ``hash``, ``pbkdf``, ``pbkdf_memory``,
    ``iter_time``…).
    """
    req = _format_request(device, passphrase, luks_type, cipher, key_size, pbkdf, label, sector_size)
    opts, stdin = key_args(req.key)
    cryptsetup([*req.args, *opts, "--", req.device], input=stdin, subject=req.device)
    return Formatted(device=req.device, version=req.version, cipher=req.cipher, key_bits=req.bits, label=label)


# --- open ↔ close ----------------------------------------------------------------------------------------------------


def _close_undo(m: OpenMapping) -> Any:
    """Close the mapping, if it is still open over the LUKS volume it was opened over (in a dry run the volume's
    UUID comes from the plan: a placeholder for a header a planned step wrote)."""
    u = undo(close, m.name)
    uuid = m.uuid or _luks_uuid(m.device)
    return u.expecting(**ephemeral(uuid=uuid)) if uuid else u


@operation(secrets=("passphrase",), inverse=_close_undo, creates=lambda m: [m.path, m.name],
           aliases=["open_encrypted"], requires=["cryptsetup"], locks=lambda a: [a["device"], _mapper(a["name"])],
           effects=effects.opened)
def open(  # noqa: A001 - the issue names it crypt.open
    device: PathArg,
    name: str,
    passphrase: Any,
    *,
    readonly: bool = False,
    allow_discards: bool = False,
    keyring: bool | None = None,
) -> OpenMapping:
    """Unlock LUKS ``device`` as ``/dev/mapper/NAME`` with ``passphrase`` (Secret, str, bytes or KeyFile).

    ``keyring=False`` keeps a LUKS2 volume key out of the kernel keyring, so ``resize`` needs no passphrase
    (default: the ``crypt.keyring`` setting).
    """
    device = check_device(device)
    name = check_mapping(name)
    key = check_key(passphrase)
    if get_runner().exists(MAPPER + name):  # asked where cryptsetup runs
        raise ValidationError(f"mapping name {name!r}: {MAPPER}{name} already exists; close it or pick another name")
    args = ["open", "--type", "luks"]
    if readonly:
        args.append("--readonly")
    if allow_discards:
        args.append("--allow-discards")
    if not (_settings().keyring if keyring is None else keyring):
        args.append("--disable-keyring")
    opts, stdin = key_args(key)
    result = OpenMapping(name=name, path=MAPPER + name, device=device)
    undo_ahead(lambda: _close_undo(result))  # inside an atomic block: the LUKS UUID is read before the open
    cryptsetup([*args, *opts, "--", device, name], input=stdin, subject=device)
    return replace(result, uuid=_luks_uuid(device))  # read back (planned, in a dry run): the volume it is over


@operation(irreversible="re-opening needs the passphrase, which pybofh never stores", target="name",
           aliases=["close_encrypted"], requires=["cryptsetup"], identify=_identify_mapping,
           locks=lambda a: [_mapper(a["name"])], effects=effects.closed)
def close(name: PathArg) -> None:
    """Remove the dm-crypt mapping ``name`` (``/dev/mapper/NAME`` also accepted)."""
    name = check_mapping(name)
    cryptsetup(["close", "--", name], subject=f"mapping {name}")


# --- resize ----------------------------------------------------------------------------------------------------------


def _mapping_uuid(name: str) -> str | None:
    """The LUKS UUID of the volume the open mapping ``name`` is over."""
    st = facts.status(name)
    return _luks_uuid(st.device) if st.device else None


def _provided_key(name: str, device: str | None) -> Any:
    """A key for mapping ``name`` from the key providers or ``crypt.key_dir`` (a journal replay has no passphrase
    argument: secrets are never journalled), None when none is known."""
    from .errors import KeyNotFoundError
    from .keys import lookup

    if not device:
        return None
    try:
        return lookup(device, _luks_uuid(device))
    except KeyNotFoundError:
        return None


def _resize_back(r: Resized, passphrase: Any) -> Any:
    u = undo(resize, r.name, r.old_size, passphrase=passphrase)
    uuid = r.uuid or _mapping_uuid(r.name)
    return u.expecting(**ephemeral(uuid=uuid)) if uuid else u


def _check_shrink(args: MappingT[str, Any]) -> None:
    """Shrinking a mapping cuts off the end of what it holds: refused unless its content is known to fit (in an
    undo, checked when a newer step of the job was not undone — an xfs grown inside it stays grown)."""
    if args["size"] is None:
        return
    name = check_mapping(args["name"])
    nbytes = parse_size(args["size"], what="LUKS size", minimum=SECTOR, multiple_of=SECTOR)
    before = facts.status(name)
    if before.size is not None and nbytes < before.size:
        refuse_shrink(MAPPER + name, nbytes, f"LUKS mapping {name}",
                      "'bofh blockdev resize' of the device under it shrinks the filesystem in it first")


@operation(secrets=("passphrase",), inverse=_resize_back, requires=["cryptsetup"], identify=_identify_mapping,
           locks=lambda a: [_mapper(a["name"])], check=_check_shrink, effects=effects.resized)
def resize(name: PathArg, size: int | str | None = None, passphrase: Any = None, *, force: bool = False) -> Resized:
    """Make open mapping ``name`` ``size`` bytes (None: fill the underlying device); the inverse resizes back. A
    shrink is refused unless the mapping's content is known to fit, or ``force``.

    A LUKS2 mapping whose volume key is in the kernel keyring needs ``passphrase`` (cryptsetup asks for it).
    """
    name = check_mapping(name)
    nbytes = None if size is None else parse_size(size, what="LUKS size", minimum=SECTOR, multiple_of=SECTOR)
    key = None if passphrase is None else check_key(passphrase)
    before = facts.status(name)
    if nbytes is not None and before.sector_size and nbytes % before.sector_size:
        raise ValidationError(f"LUKS size: {nbytes} is not a multiple of {name}'s sector size {before.sector_size}")
    if key is None and before.key_location == "keyring":
        key = _provided_key(name, before.device)
        if key is None:
            raise ValidationError(
                f"mapping {name} keeps its volume key in the kernel keyring, so resizing it needs the passphrase: "
                "pass passphrase=..., provide one (pybofh_crypt.keys.provide, a key file in crypt.key_dir), or "
                "open it with keyring=False"
            )
    args = ["resize"]
    if nbytes is not None:
        args += ["--size", str(nbytes // SECTOR)]
    stdin = None
    if key is not None:
        opts, stdin = key_args(key)
        args += opts
    assert before.size is not None  # parse_crypt_status guarantees it for active mappings
    if nbytes != before.size:
        undo_ahead(lambda: _resize_back(Resized(name, before.size or 0, nbytes), passphrase))
    cryptsetup([*args, "--", name], input=stdin, subject=f"mapping {name}")
    if nbytes is not None:
        new: int | None = nbytes
    elif get_runner().dry_run:  # nothing was resized: what filling the underlying device would give
        new = effects.filled_size(before)
    else:
        new = facts.status(name).size
    return Resized(name=name, old_size=before.size, new_size=new)


# --- add_key ↔ remove_key --------------------------------------------------------------------------------------------


def _remove_key_undo(k: AddedKey) -> Any:
    u = undo(remove_key, k.device, k.slot)
    return u.expecting(uuid=k.uuid) if k.uuid else u


@operation(secrets=("passphrase", "new_passphrase"), inverse=_remove_key_undo, requires=["cryptsetup"],
           effects=effects.key_added)
def add_key(device: PathArg, passphrase: Any, new_passphrase: Any, *, slot: int | None = None,
            pbkdf: str | None = None) -> AddedKey:
    """Add ``new_passphrase`` to LUKS ``device`` (unlocked with ``passphrase``) in ``slot`` or the first free slot.

    The result names the slot, so the inverse (``remove_key``) needs no passphrase and can run from the journal.
    """
    device = check_device(device)
    old = check_key(passphrase, "passphrase")
    new = check_key(new_passphrase, "new passphrase")
    if slot is not None and (isinstance(slot, bool) or not isinstance(slot, int) or slot < 0):
        raise ValidationError(f"key slot: {slot!r} is not a slot number")
    header = facts.dump(device)
    if slot is None:
        slot = header.free_keyslot()
        if slot is None:
            raise ValidationError(f"{device}: all {header.version.max_keyslots} key slots are in use; remove one first")
    elif slot >= header.version.max_keyslots:
        raise ValidationError(f"key slot: {header.version.name} has slots 0 to {header.version.max_keyslots - 1}")
    elif slot in header.active_keyslots:
        raise ValidationError(f"key slot {slot} of {device} already holds a key; pick a free slot")
    args = ["luksAddKey", "--batch-mode", "--key-slot", str(slot), *_pbkdf_args(header.version, pbkdf)]
    stdin: Secret | None
    argv: list[Any]
    new_file: str | SecretFile
    if line_safe(new) and (isinstance(old, KeyFile) or line_safe(old)):
        # cryptsetup reads each missing passphrase as one line of stdin
        assert isinstance(new, Secret)
        if isinstance(old, KeyFile):
            argv, stdin = [*args, "--key-file", old.path, "--", device], Secret(new.reveal() + "\n")
        else:
            argv, stdin = [*args, "--", device], Secret(old.reveal() + "\n" + new.reveal() + "\n")
    else:
        opts, stdin = key_args(old)
        if isinstance(new, KeyFile):
            new_file = new.path
        else:
            if not get_runner().accepts_secret_files():
                raise ValidationError(
                    "new passphrase: it holds a newline or is longer than 512 characters, so it must reach "
                    "cryptsetup as a file, which this transport cannot pass in memory; pass a KeyFile on the target "
                    "host instead"
                )
            new_file = SecretFile(new)  # /dev/fd/N of an in-memory file: never on any filesystem
        argv = [*args, *opts, "--", device, new_file]
    result = AddedKey(device=device, slot=slot, uuid=header.uuid)
    undo_ahead(lambda: _remove_key_undo(result))
    cryptsetup(argv, input=stdin, subject=device)
    return result


@operation(irreversible="wipes the key slot: pybofh cannot put its passphrase back", target="device",
           requires=["cryptsetup"], identify=_identify_key, effects=effects.key_removed)
def remove_key(device: PathArg, slot: int) -> None:
    """Wipe key ``slot`` of LUKS ``device`` (``luksKillSlot``; no passphrase needed); refuses the last active slot."""
    device = check_device(device)
    if isinstance(slot, bool) or not isinstance(slot, int) or slot < 0:
        raise ValidationError(f"key slot: {slot!r} is not a slot number")
    header = facts.dump(device)
    active = header.active_keyslots
    if slot not in active:
        raise NotFoundError(f"key slot {slot} of {device} holds no key (active slots: {list(active) or 'none'})")
    if set(active) == {slot}:
        raise ValidationError(f"key slot {slot} is the last key of {device}: removing it makes the data unreadable")
    cryptsetup(["luksKillSlot", "--batch-mode", "--", device, str(slot)], subject=device)


# --- header backup / restore -----------------------------------------------------------------------------------------


def _new_file(value: Any, what: str) -> str:
    path = validate_path(value, what=what)
    runner = get_runner()  # the file is written where cryptsetup runs
    if runner.exists(path):
        raise ValidationError(f"{what}: {path} already exists; cryptsetup will not overwrite it")
    parent = os.path.dirname(path) or "/"
    try:
        is_dir = runner.path_kind(parent) == "dir"
    except ValidationError:  # cannot be looked at (permissions): not a usable directory
        is_dir = False
    if not is_dir:
        raise NotFoundError(f"{what}: directory {parent} does not exist")
    return path


def _backup_undo(b: HeaderBackup) -> Any:
    u = undo(remove_header_backup, b.file)
    info = get_runner().stat(b.file) if not get_runner().dry_run else None
    if info is None:
        return u
    return u.expecting(uuid=b.uuid or _luks_uuid(b.file), inode=f"{info.dev}:{info.ino}")


@operation(inverse=_backup_undo, creates=lambda b: [b.file], requires=["cryptsetup"])
def header_backup(device: PathArg, file: PathArg) -> HeaderBackup:
    """Save the LUKS header and key slots of ``device`` to the new file ``file`` (mode 0400)."""
    device = check_device(device)
    file = _new_file(file, "header backup file")
    cryptsetup(["luksHeaderBackup", "--header-backup-file", file, "--", device], subject=device)
    return HeaderBackup(device=device, file=file)


@operation(irreversible="deletes the header backup file", target="file", requires=["cryptsetup", "rm"],
           identify=_identify_backup)
def remove_header_backup(file: PathArg) -> None:
    """Delete a header backup file; refuses a file that is not a LUKS header (so an undo never deletes other data)."""
    file = validate_path(file, what="header backup file", kind="file")
    if not facts.is_luks(file):
        raise ValidationError(f"header backup file: {file} is not a LUKS header backup; not deleting it")
    run(["rm", "-f", "--", file])


def _check_restore(args: MappingT[str, Any]) -> None:
    """Restoring a header over another LUKS volume, or over data, makes that unreadable: pybofh checks first."""
    device = check_device(args["device"])
    file = validate_path(args["file"], what="header backup file", kind="file")
    if not facts.is_luks(file):
        raise ValidationError(f"header backup file: {file} is not a LUKS header backup")
    want = facts.dump(file).uuid
    if facts.is_luks(device):
        now = facts.dump(device).uuid
        if now != want:
            raise DataAtRiskError(f"{device} holds LUKS {now}, not LUKS {want} of the backup {file}; restoring would "
                                  f"make its data unreadable — {FORCE_HINT}")
        return
    refuse_if_holds_data(device, f"restoring the LUKS header {want} on it")


@operation(irreversible="overwrites the device's LUKS header and key slots with the backup's", target="device",
           requires=["cryptsetup"], check=_check_restore, effects=effects.header_restored)
def header_restore(device: PathArg, file: PathArg, *, force: bool = False) -> None:
    """Write the header backup ``file`` back onto ``device`` (its current key slots are lost).

    Refused, unless ``force``, when ``device`` holds another LUKS volume (another UUID) or any other data.
    """
    device = check_device(device)
    file = validate_path(file, what="header backup file", kind="file")
    cryptsetup(["luksHeaderRestore", "--batch-mode", "--header-backup-file", file, "--", device], subject=device)
