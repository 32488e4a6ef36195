"""Operations on LUKS devices, each with its inverse (or why it has none) right beside it.

Passphrases reach cryptsetup only on stdin (``--key-file=-``, or one line each for ``luksAddKey``) or, for a new
key that cannot travel as a line, in a key file made 0600 in a private temp directory and removed right after.
Every passphrase argument is wrapped in a :class:`~pybofh_core.secret.Secret` before the atomic block journals the
call, so it never reaches argv, the environment, logs, the journal or error text.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from typing import Any, TypeVar

from pybofh_core.errors import NotFoundError, ValidationError
from pybofh_core.operations import operation, undo
from pybofh_core.runner import get_runner, run
from pybofh_core.secret import Secret
from pybofh_core.validate import parse_size, validate_path

from . import facts
from ._cmd import MAPPER, check_device, check_key, check_mapping, cryptsetup, key_args, line_safe
from .keys import as_key
from .types import SECTOR, AddedKey, Formatted, HeaderBackup, KeyFile, LuksVersion, Mapping, Resized

F = TypeVar("F", bound=Callable[..., Any])

_CIPHER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:()_,.+-]*$")
_PBKDFS = ("argon2id", "argon2i", "pbkdf2")


def _secret_params(*names: str) -> Callable[[F], F]:
    """Wrap the named arguments of an operation in Secret *before* an atomic block journals the call.

    (The core journals an operation's arguments before running it; a plain ``str`` passphrase would be written.)
    """

    def deco(op: F) -> F:
        sig = inspect.signature(op)

        @functools.wraps(op)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError:
                return op(*args, **kwargs)  # let the operation report the bad call
            for name in names:
                value = bound.arguments.get(name)
                if isinstance(value, (str, bytes)):
                    bound.arguments[name] = as_key(value)
            return op(*bound.args, **bound.kwargs)

        return wrapper  # type: ignore[return-value]

    return deco


def _settings() -> Any:
    from pybofh_core.settings import get_settings

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


# --- format ----------------------------------------------------------------------------------------------------------


@_secret_params("passphrase")
@operation(irreversible="writes a new LUKS header: the device's current data becomes unreadable", target="device",
           aliases=["create_encrypted", "luks_format"], requires=["cryptsetup"])
def format(  # noqa: A001 - the issue names it crypt.format
    device: str,
    passphrase: Any,
    *,
    luks_type: str | None = None,
    cipher: str | None = None,
    key_size: int | None = None,
    pbkdf: str | None = None,
    label: str | None = None,
    sector_size: int | None = None,
) -> Formatted:
    """Write a LUKS1/LUKS2 header on ``device`` whose first key slot opens with ``passphrase`` (Secret or KeyFile).

    Unset parameters come from the ``crypt`` settings (``luks_type``, ``cipher``, ``key_size``, ``hash``, ``pbkdf``,
    ``pbkdf_memory``, ``iter_time``…).
    """
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
    opts, stdin = key_args(key)
    cryptsetup([*args, *opts, "--", device], input=stdin, subject=device)
    return Formatted(device=device, version=version, cipher=cipher, key_bits=bits, label=label)


# --- open ↔ close ----------------------------------------------------------------------------------------------------


@_secret_params("passphrase")
@operation(inverse=lambda m: undo(close, m.name), creates=lambda m: [m.path, m.name],
           aliases=["open_encrypted"], requires=["cryptsetup"])
def open(  # noqa: A001 - the issue names it crypt.open
    device: str,
    name: str,
    passphrase: Any,
    *,
    readonly: bool = False,
    allow_discards: bool = False,
    keyring: bool | None = None,
) -> Mapping:
    """Unlock LUKS ``device`` as ``/dev/mapper/NAME`` with ``passphrase`` (Secret, str, bytes or KeyFile).

    ``keyring=False`` keeps a LUKS2 volume key out of the kernel keyring, so ``resize`` needs no passphrase
    (default: the ``crypt.keyring`` setting).
    """
    device = check_device(device)
    name = check_mapping(name)
    key = check_key(passphrase)
    if os.path.lexists(MAPPER + name):
        raise ValidationError(f"mapping name {name!r}: {MAPPER}{name} already exists; close it or pick another name")
    args = ["open", "--type", "luks"]
    if readonly:
        args.append("--readonly")
    if allow_discards:
        args.append("--allow-discards")
    if not (_settings().keyring if keyring is None else keyring):
        args.append("--disable-keyring")
    opts, stdin = key_args(key)
    cryptsetup([*args, *opts, "--", device, name], input=stdin, subject=device)
    return Mapping(name=name, path=MAPPER + name, device=device)


@operation(irreversible="re-opening needs the passphrase, which pybofh never stores", target="name",
           aliases=["close_encrypted"], requires=["cryptsetup"])
def close(name: str) -> None:
    """Remove the dm-crypt mapping ``name`` (``/dev/mapper/NAME`` also accepted)."""
    name = check_mapping(name)
    cryptsetup(["close", "--", name], subject=f"mapping {name}")


# --- resize ----------------------------------------------------------------------------------------------------------


@_secret_params("passphrase")
@operation(inverse=lambda r, passphrase: undo(resize, r.name, r.old_size, passphrase=passphrase),
           requires=["cryptsetup"])
def resize(name: str, size: int | str | None = None, passphrase: Any = None) -> Resized:
    """Make open mapping ``name`` ``size`` bytes (None: fill the underlying device); the inverse resizes back.

    A LUKS2 mapping whose volume key is in the kernel keyring needs ``passphrase`` (cryptsetup asks for it).
    """
    name = check_mapping(name)
    nbytes = None if size is None else parse_size(size, what="LUKS size", minimum=SECTOR, multiple_of=SECTOR)
    key = None if passphrase is None else check_key(passphrase)
    before = facts.status(name)
    if nbytes is not None and before.sector_size and nbytes % before.sector_size:
        raise ValidationError(f"LUKS size: {nbytes} is not a multiple of {name}'s sector size {before.sector_size}")
    if key is None and before.key_location == "keyring":
        raise ValidationError(
            f"mapping {name} keeps its volume key in the kernel keyring, so resizing it needs the passphrase: "
            "pass passphrase=..., or open it with keyring=False"
        )
    args = ["resize"]
    if nbytes is not None:
        args += ["--size", str(nbytes // SECTOR)]
    stdin = None
    if key is not None:
        opts, stdin = key_args(key)
        args += opts
    assert before.size is not None  # parse_crypt_status guarantees it for active mappings
    cryptsetup([*args, "--", name], input=stdin, subject=f"mapping {name}")
    new = nbytes if nbytes is not None else facts.status(name).size
    return Resized(name=name, old_size=before.size, new_size=new)


# --- add_key ↔ remove_key --------------------------------------------------------------------------------------------


@_secret_params("passphrase", "new_passphrase")
@operation(inverse=lambda k: undo(remove_key, k.device, k.slot), requires=["cryptsetup"])
def add_key(device: str, passphrase: Any, new_passphrase: Any, *, slot: int | None = None,
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
    tmpdir = None
    stdin: Secret | None
    try:
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
                tmpdir, new_file = _private_key_file(new)
            argv = [*args, *opts, "--", device, new_file]
        cryptsetup(argv, input=stdin, subject=device)
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return AddedKey(device=device, slot=slot)


def _private_key_file(key: Secret) -> tuple[str, str]:
    """Write ``key`` to a 0600 file in a new 0700 temp dir (not for commands run on another host); (dir, file)."""
    if get_runner().host is not None:
        raise ValidationError(
            "new passphrase: it holds a newline or is longer than 512 characters, so it must travel in a key file, "
            "which pybofh writes only for local commands; pass a KeyFile on the target host instead"
        )
    tmpdir = tempfile.mkdtemp(prefix="pybofh-key-")
    path = os.path.join(tmpdir, "key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        data = memoryview(key.encode())
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
    return tmpdir, path


@operation(irreversible="wipes the key slot: pybofh cannot put its passphrase back", target="device",
           requires=["cryptsetup"])
def remove_key(device: str, slot: int) -> None:
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
    if os.path.lexists(path):
        raise ValidationError(f"{what}: {path} already exists; cryptsetup will not overwrite it")
    parent = os.path.dirname(path) or "/"
    if not os.path.isdir(parent):
        raise NotFoundError(f"{what}: directory {parent} does not exist")
    return path


@operation(inverse=lambda b: undo(remove_header_backup, b.file), creates=lambda b: [b.file],
           requires=["cryptsetup"])
def header_backup(device: str, file: str) -> HeaderBackup:
    """Save the LUKS header and key slots of ``device`` to the new file ``file`` (mode 0400)."""
    device = check_device(device)
    file = _new_file(file, "header backup file")
    cryptsetup(["luksHeaderBackup", "--header-backup-file", file, "--", device], subject=device)
    return HeaderBackup(device=device, file=file)


@operation(irreversible="deletes the header backup file", target="file", requires=["cryptsetup", "rm"])
def remove_header_backup(file: str) -> None:
    """Delete a header backup file; refuses a file that is not a LUKS header (so an undo never deletes other data)."""
    file = validate_path(file, what="header backup file", kind="file")
    if not facts.is_luks(file):
        raise ValidationError(f"header backup file: {file} is not a LUKS header backup; not deleting it")
    run(["rm", "-f", "--", file])


@operation(irreversible="overwrites the device's LUKS header and key slots with the backup's", target="device",
           requires=["cryptsetup"])
def header_restore(device: str, file: str) -> None:
    """Write the header backup ``file`` back onto ``device`` (its current key slots are lost)."""
    device = check_device(device)
    file = validate_path(file, what="header backup file", kind="file")
    cryptsetup(["luksHeaderRestore", "--batch-mode", "--header-backup-file", file, "--", device], subject=device)
