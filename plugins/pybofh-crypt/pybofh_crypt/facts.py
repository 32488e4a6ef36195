"""Readers: run one read-only cryptsetup command and hand its output to a pure parser in ``pybofh_crypt.parsers``."""

from __future__ import annotations

import dataclasses
from typing import Any

from pybofh_core.secret import Secret

from ._cmd import cryptsetup, key_args
from .checks import check_device, check_key, check_mapping
from .errors import MappingNotFoundError, PassphraseError
from .parsers import parse_crypt_status, parse_luks2_json, parse_luks_dump
from .types import CryptStatus, KeyFile, LuksDevice, LuksVersion


def dump(device: str) -> LuksDevice:
    """The LUKS header of ``device``: text ``luksDump``, and for LUKS2 also ``--dump-json-metadata`` (exact values).

    The JSON metadata gives key slots, segments, tokens and digests; the text dump adds what only the binary header
    holds (UUID, label, subsystem, epoch). cryptsetup older than 2.4 has no JSON dump: the text result is returned.
    """
    device = check_device(device)
    text = cryptsetup(["luksDump", "--", device], readonly=True, subject=device)
    head = parse_luks_dump(text.stdout, source=f"cryptsetup luksDump {device}")
    if head.version is not LuksVersion.LUKS2:
        return head
    res = cryptsetup(["luksDump", "--dump-json-metadata", "--", device], readonly=True, subject=device,
                     ok_codes=(0, 1))
    if res.returncode != 0 or not res.stdout.strip():
        return head  # an old cryptsetup without --dump-json-metadata
    meta = parse_luks2_json(res.stdout, source=f"cryptsetup luksDump --dump-json-metadata {device}")
    return dataclasses.replace(meta, uuid=head.uuid, label=head.label, subsystem=head.subsystem, epoch=head.epoch,
                               flags=meta.flags or head.flags)


def status(name: str) -> CryptStatus:
    """The active mapping ``name`` (``cryptsetup status``); MappingNotFoundError when it is not active."""
    name = check_mapping(name)
    res = cryptsetup(["status", "--", name], readonly=True, subject=f"mapping {name}", ok_codes=(0, 4))
    st = parse_crypt_status(res.stdout, source=f"cryptsetup status {name}")
    if not st.active:
        raise MappingNotFoundError(f"no active dm-crypt mapping named {name!r} (see 'dmsetup ls --target crypt')")
    return st


def is_open(name: str) -> bool:
    """Whether dm-crypt mapping ``name`` is active."""
    try:
        status(name)
    except MappingNotFoundError:
        return False
    return True


def mapping_over(device: str) -> str | None:
    """The name of the dm-crypt mapping open over ``device``, whatever it is called (None when none is open).

    Found through the device tree's holders (``lsblk``, which reads sysfs: no udev needed), then confirmed with
    ``cryptsetup status``: a mapping opened by hand or by another tool as ``data_crypt`` is found as well as
    pybofh's own ``luks-<UUID>``.
    """
    from pybofh_core.errors import ParseError
    from pybofh_core.parsing import decode_text, load_json
    from pybofh_core.runner import get_runner, run

    device = check_device(device)
    if get_runner().path_kind(device) != "block":
        return None  # an image file: cryptsetup opens it through a loop device of its own, the name is pybofh's
    res = run(["lsblk", "--json", "--list", "-o", "NAME,KNAME,PKNAME,TYPE", "--", device], readonly=True,
              check=False)
    if res.returncode != 0:
        return None
    try:
        rows = load_json(decode_text(res.stdout) or "{}", "lsblk")[0].get("blockdevices") or []
    except (ParseError, AttributeError):
        return None
    if not rows or not isinstance(rows[0], dict):
        return None
    top = rows[0].get("kname")
    for row in rows[1:]:
        if isinstance(row, dict) and row.get("type") == "crypt" and row.get("pkname") == top and row.get("name"):
            try:
                st = status(str(row["name"]))
            except (MappingNotFoundError, ValueError):
                continue
            if st.device:
                return st.name
    return None


def is_luks(device: str) -> bool:
    """Whether ``device`` holds a LUKS header (``cryptsetup isLuks``)."""
    device = check_device(device, "device")
    return cryptsetup(["isLuks", "--", device], readonly=True, subject=device, ok_codes=(0, 1)).returncode == 0


def test_passphrase(device: str, passphrase: Any, *, slot: int | None = None) -> bool:
    """Whether ``passphrase`` (str/bytes/Secret/KeyFile) unlocks ``device`` (in key slot ``slot``), opening nothing."""
    from .keys import as_key

    device = check_device(device)
    key = check_key(as_key(passphrase) if not isinstance(passphrase, (Secret, KeyFile)) else passphrase)
    opts, stdin = key_args(key)
    slot_opts = ["--key-slot", str(slot)] if slot is not None else []
    try:
        cryptsetup(["open", "--test-passphrase", *slot_opts, *opts, "--", device], input=stdin, readonly=True,
                   subject=device)
    except PassphraseError:
        return False
    return True
