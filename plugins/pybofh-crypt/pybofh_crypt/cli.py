"""``bofh crypt …``: thin commands over the crypt API. Passphrases come from a hidden prompt or ``--key-file``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pybofh_core.cli import get_context, output

app = typer.Typer(no_args_is_help=True, help="LUKS encryption with cryptsetup.")

KeyFileOpt = Annotated[
    Path | None, typer.Option("--key-file", help="Read the passphrase/key from this file instead of prompting.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (pybofh's data checks still "
                                                         "apply: --force overrides them).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Go ahead although pybofh found data it would destroy.")]


def _key(key_file: Path | None, prompt: str, *, confirm: bool = False) -> Any:
    """A KeyFile for ``--key-file``, else a Secret read from a hidden prompt (never from argv)."""
    from pybofh_core.secret import Secret

    from .types import KeyFile

    if key_file is not None:
        return KeyFile(str(key_file.absolute()))
    return Secret(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def _checked_device(device: str) -> str:
    """Check DEVICE as the operation will, but before asking anything: bad input is exit 2 without a prompt."""
    from .checks import check_device

    return check_device(device)


def _checked_file(file: Path, *, must_exist: bool = False) -> str:
    """Check FILE as typed (a relative name is fine, one like an option is not), then make it absolute."""
    from pybofh_core.validate import validate_path

    validate_path(str(file), what="file", absolute=False)
    return validate_path(str(file.absolute()), what="file", kind="file" if must_exist else None)


def _confirm(question: str, yes: bool) -> None:
    if not yes and not get_context().dry_run:
        typer.confirm(question, abort=True)


@app.command("format")
def format_cmd(
    device: str,
    luks_type: Annotated[str | None, typer.Option("--type", help="luks1 or luks2 (default: crypt.luks_type).")] = None,
    cipher: Annotated[str | None, typer.Option(help="Cipher (default: crypt.cipher).")] = None,
    key_size: Annotated[int | None, typer.Option(help="Volume key bits (default: crypt.key_size).")] = None,
    label: Annotated[str | None, typer.Option(help="LUKS2 label.")] = None,
    key_file: KeyFileOpt = None,
    yes: YesOpt = False,
    force: ForceOpt = False,
) -> None:
    """Write a new LUKS header on DEVICE (destroys its data; refused while it holds a filesystem, LUKS header or
    other signature, unless --force)."""
    from . import ops

    _checked_device(device)
    _confirm(f"Write a new LUKS header on {device}? Its current data will be unreadable", yes)
    key = _key(key_file, "New passphrase", confirm=True)
    output(ops.format(device, key, luks_type=luks_type, cipher=cipher, key_size=key_size, label=label, force=force))


@app.command("open")
def open_cmd(
    device: str,
    name: str,
    key_file: KeyFileOpt = None,
    readonly: Annotated[bool, typer.Option("--readonly", help="Open read-only.")] = False,
    allow_discards: Annotated[bool, typer.Option("--allow-discards", help="Pass TRIM through.")] = False,
) -> None:
    """Unlock DEVICE as /dev/mapper/NAME."""
    from . import ops

    key = _key(key_file, f"Passphrase for {device}")
    output(ops.open(device, name, key, readonly=readonly, allow_discards=allow_discards))


@app.command("close")
def close_cmd(name: str) -> None:
    """Close the mapping NAME."""
    from . import ops

    ops.close(name)


@app.command("status")
def status_cmd(name: str) -> None:
    """Show the open mapping NAME (sizes in bytes)."""
    from . import facts

    output(facts.status(name))


@app.command("dump")
def dump_cmd(device: str) -> None:
    """Show the LUKS header of DEVICE: version, UUID, cipher, data offset and key slots."""
    from . import facts

    header = facts.dump(device)
    if get_context().json:
        output(header)
        return
    output({"device": device, "version": int(header.version), "uuid": header.uuid, "label": header.label,
            "cipher": header.cipher, "key_bits": header.key_bits, "data_offset": header.data_offset,
            "sector_size": header.sector_size})
    typer.echo("")
    output([{"slot": k.index, "pbkdf": k.pbkdf, "key_bits": k.key_bits, "area_offset": k.area_offset,
             "digest": k.digest} for k in header.keyslots if k.active])


@app.command("resize")
def resize_cmd(
    name: str,
    size: Annotated[str | None, typer.Argument(help="New size (e.g. 10G); default: fill the device.")] = None,
    key_file: KeyFileOpt = None,
) -> None:
    """Resize the open mapping NAME."""
    from pybofh_core.validate import parse_size

    from . import facts, ops
    from .checks import check_mapping

    check_mapping(name)  # before the status lookup and the passphrase prompt
    if size is not None:
        parse_size(size, what="LUKS size", minimum=1)
    key = None
    if key_file is not None or facts.status(name).key_location == "keyring":
        key = _key(key_file, f"Passphrase for {name}")
    output(ops.resize(name, size, passphrase=key))


@app.command("add-key")
def add_key_cmd(
    device: str,
    key_file: KeyFileOpt = None,
    new_key_file: Annotated[Path | None, typer.Option("--new-key-file", help="New key file.")] = None,
    slot: Annotated[int | None, typer.Option(help="Key slot for the new key (default: the first free one).")] = None,
) -> None:
    """Add a passphrase to DEVICE in a free key slot."""
    from . import ops

    key = _key(key_file, f"Existing passphrase for {device}")
    new = _key(new_key_file, "New passphrase", confirm=True)
    output(ops.add_key(device, key, new, slot=slot))


@app.command("test-key")
def test_key_cmd(
    device: str,
    key_file: KeyFileOpt = None,
    slot: Annotated[int | None, typer.Option(help="Only try this key slot (default: every active one).")] = None,
) -> None:
    """Check whether a passphrase or key file unlocks DEVICE, opening nothing (exit 1 when it does not)."""
    from pybofh_core.errors import PybofhError

    from . import facts

    _checked_device(device)
    key = _key(key_file, f"Passphrase for {device}")
    unlocks = facts.test_passphrase(device, key, slot=slot)
    output({"device": device, "slot": slot, "unlocks": unlocks})
    if not unlocks:
        where = f"key slot {slot} of {device}" if slot is not None else device
        raise PybofhError(f"the key does not unlock {where}")


@app.command("remove-key")
def remove_key_cmd(device: str, slot: int, yes: YesOpt = False) -> None:
    """Wipe key slot SLOT of DEVICE (refuses the last one)."""
    from . import ops

    _checked_device(device)
    _confirm(f"Wipe key slot {slot} of {device}? Its passphrase will stop working", yes)
    ops.remove_key(device, slot)


@app.command("header-backup")
def header_backup_cmd(device: str, file: Path) -> None:
    """Save the LUKS header of DEVICE to the new file FILE."""
    from . import ops

    output(ops.header_backup(device, _checked_file(file)))


@app.command("header-restore")
def header_restore_cmd(device: str, file: Path, yes: YesOpt = False, force: ForceOpt = False) -> None:
    """Write the header backup FILE onto DEVICE (replaces its key slots; refused over another LUKS volume or other
    data unless --force)."""
    from . import ops

    _checked_device(device)
    path = _checked_file(file, must_exist=True)
    _confirm(f"Overwrite the LUKS header of {device} with {file}?", yes)
    ops.header_restore(device, path, force=force)


# --- TAB completion (read by bofh when it loads this app; see pybofh_core.cli.attach_completers) -----------------


def _open_mappings(ctx: object, incomplete: str) -> list[str]:
    """Names of open dm-crypt mappings (not for a new mapping's name: open)."""
    if getattr(ctx, "info_name", "") == "open":
        return []
    from pybofh_core.runner import run

    out = run(["dmsetup", "ls", "--target", "crypt"], readonly=True).text
    return [line.split()[0] for line in out.splitlines() if line.strip() and not line.startswith("No devices")]


def _block_devices(ctx: object, incomplete: str) -> list[str]:
    from pybofh_core.runner import run

    out = run(["lsblk", "--list", "--noheadings", "--paths", "-o", "PATH"], readonly=True).text
    return out.split()


COMPLETERS = {"name": _open_mappings, "device": _block_devices}


#: Operations without a command of their own, and why (tests/test_cli_coverage.py holds every plugin to this)
NOT_IN_CLI = {"remove_header_backup": "the undo of 'header-backup': a rollback runs it; a backup is removed with rm"}

#: Public facts (readers) without a command of their own, and why (tests/test_cli_coverage.py)
FACTS_NOT_IN_CLI = {
    "is_luks": "a predicate 'dump DEVICE' answers: it shows the LUKS header, or fails when DEVICE has none",
    "is_open": "a predicate 'status NAME' answers: it shows the open mapping, or fails when NAME is not open",
}
