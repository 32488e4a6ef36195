"""Readers: run one read-only cryptsetup command and hand its output to a pure parser in ``pybofh_crypt.parsers``.

In a dry run they read the planning model first (``pybofh_crypt.effects`` writes it): a header a planned ``format``
wrote, a mapping a planned ``open`` made or a planned ``close`` removed, as the planned steps leave them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pybofh_core.model import GONE
from pybofh_core.runner import get_runner
from pybofh_core.secret import Secret

from ._cmd import cryptsetup, key_args
from .checks import check_device, check_key, check_mapping
from .errors import MappingNotFoundError, NotLuksError, PassphraseError
from .parsers import parse_crypt_status, parse_luks2_json, parse_luks_dump
from .types import CryptStatus, KeyFile, LuksDevice, LuksVersion

#: The planning model's kinds of this plugin: LUKS headers by device path, open mappings by name (``effects``).
HEADER, MAPPING = "crypt.luks", "crypt.mapping"


def planned(kind: str, key: str) -> Any:
    """What the dry run's planned steps made of ``key`` (``GONE`` if they removed it), None when they did not touch
    it or no dry run plans; a device path also matches an entry under another name of the same device."""
    runner = get_runner()
    model = runner.model
    if model is None:
        return None
    hit = model.get(kind, key)
    if hit is None and key.startswith("/"):
        hit = next((v for k, v in model.touched(kind).items() if k.startswith("/") and runner.same_path(k, key)),
                   None)
    return hit


def dump(device: str) -> LuksDevice:
    """The LUKS header of ``device``: text ``luksDump``, and for LUKS2 also ``--dump-json-metadata`` (exact values).

    The JSON metadata gives key slots, segments, tokens and digests; the text dump adds what only the binary header
    holds (UUID, label, subsystem, epoch). cryptsetup older than 2.4 has no JSON dump: the text result is returned.
    """
    device = check_device(device)
    header = planned(HEADER, device)
    if header is GONE:
        raise NotLuksError(f"{device} holds no LUKS header")
    if header is not None:
        return header  # type: ignore[no-any-return]
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
    st = planned(MAPPING, name)
    if st is GONE:
        raise MappingNotFoundError(f"no active dm-crypt mapping named {name!r} (a planned step closed it)")
    if st is not None:
        return st  # type: ignore[no-any-return]
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
    from pybofh_core.runner import run

    device = check_device(device)
    model = get_runner().model
    for name, st in (model.touched(MAPPING) if model is not None else {}).items():
        if st is not GONE and st.device and get_runner().same_path(st.device, device):
            return name  # a mapping a planned step opened
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
    header = planned(HEADER, device)
    if header is not None:
        return header is not GONE
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
