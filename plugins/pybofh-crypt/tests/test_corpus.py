"""Every sample of ``../shared/corpus/crypt`` parses to a typed result whose key fields are checked (issue 10).

Read in place through the ``corpus`` fixture (skips with a reason when the corpus is absent); nothing is copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_crypt.parsers import parse_crypt_status, parse_luks2_json, parse_luks_dump

MIB16 = 16 * 1024**2

# One entry per corpus file: the parser, then the expected values (sizes in bytes) read off the sample by hand.
EXPECT: dict[str, dict[str, Any]] = {
    "cryptsetup_status_luks1_libstorage-ng-systeminfo.txt": {
        "parser": "status",
        "fields": {"name": "cr-test", "path": "/dev/mapper/cr-test", "active": True, "in_use": True, "type": "LUKS1",
                   "cipher": "aes-cbc-essiv:sha256", "key_bits": 256, "device": "/dev/sda2", "key_location": None,
                   "sector_size": None, "offset": 4096 * 512, "size": 487348224 * 512, "readonly": False},
    },
    "cryptsetup_status_luks2_libstorage-ng-systeminfo.txt": {
        "parser": "status",
        "fields": {"name": "cr-test", "active": True, "in_use": False, "type": "LUKS2", "cipher": "aes-xts-plain64",
                   "key_bits": 512, "key_location": "keyring", "device": "/dev/sdc1", "sector_size": 512,
                   "offset": 32768 * 512, "size": 20938752 * 512, "readonly": False},
    },
    "luksDump_dump-json-metadata_luks2_integrity-hmac_contrast.json": {
        "parser": "luksDump-json",
        "fields": {"version": 2, "uuid": None, "cipher": "aes-xts-plain64", "key_bits": 768, "data_offset": MIB16,
                   "sector_size": 512, "metadata_size": 16384, "keyslots_size": 16744448},
        "keyslots": [{"index": 0, "type": "luks2", "key_bits": 768, "cipher_key_bits": 512, "pbkdf": "argon2id",
                      "time_cost": 463, "memory_kib": 10240, "threads": 1, "af_stripes": 4000, "af_hash": "sha256",
                      "area_offset": 32768, "area_size": 385024, "digest": 0}],
        "segments": [{"index": 0, "type": "crypt", "offset": MIB16, "size": None, "cipher": "aes-xts-plain64",
                      "sector_size": 512, "integrity": "hmac(sha256)"}],
        "tokens": [],
        "digests": [{"index": 0, "type": "pbkdf2", "hash": "sha256", "iterations": 331408, "keyslots": [0],
                     "segments": [0]}],
    },
    "luksDump_dump-json-metadata_luks2_plain-aes-xts_empty-tokens_contrast.json": {
        "parser": "luksDump-json",
        "fields": {"version": 2, "cipher": "aes-xts-plain64", "key_bits": 512, "data_offset": MIB16,
                   "sector_size": 4096, "metadata_size": 16384},
        "keyslots": [{"index": 0, "key_bits": 512, "pbkdf": "argon2id", "time_cost": 6, "memory_kib": 1048576,
                      "threads": 4, "area_offset": 32768, "area_size": 258048}],
        "segments": [{"index": 0, "offset": MIB16, "size": None, "sector_size": 4096, "integrity": None}],
        "tokens": [],
        "digests": [{"index": 0, "iterations": 673026, "keyslots": [0]}],
    },
    "luksDump_luks1_libstorage-ng-luks4.txt": {
        "parser": "luksDump",
        "fields": {"version": 1, "uuid": "3ce5edf6-49bc-4a9e-8e71-7f27e9ee07fa", "cipher": "aes-xts-plain64",
                   "key_bits": 512, "hash": "sha256", "data_offset": 4096 * 512, "sector_size": 512,
                   "device": "/dev/sdb1", "active_keyslots": [0], "free_keyslot": 1},
        "keyslots": [{"index": 0, "pbkdf": "pbkdf2", "iterations": 2432890, "area_offset": 8 * 512,
                      "af_stripes": 4000}],
        "segments": [],
    },
    "luksDump_luks1_libstorage-ng-systeminfo.txt": {
        "parser": "luksDump",
        "fields": {"version": 1, "uuid": "f0b3c940-6bf1-4afa-8ba4-fa4d97b026b6", "cipher": "aes-xts-plain64",
                   "key_bits": 512, "data_offset": 4096 * 512, "device": "/dev/sdc1", "active_keyslots": [0]},
        "keyslots": [{"index": 0, "iterations": 2242942, "area_offset": 8 * 512}],
    },
    "luksDump_luks2_aead-integrity_libstorage-ng.txt": {
        "parser": "luksDump",
        "fields": {"version": 2, "uuid": "08b5a714-8712-4c75-8ac0-04ff7d2912bb", "epoch": 3, "label": None,
                   "subsystem": None, "flags": [], "cipher": "aegis128-random", "key_bits": 128,
                   "data_offset": MIB16, "sector_size": 512, "metadata_size": 16384, "keyslots_size": 16744448},
        "keyslots": [{"index": 0, "key_bits": 128, "cipher": "aes-xts-plain64", "cipher_key_bits": 512,
                      "pbkdf": "argon2id", "time_cost": 4, "memory_kib": 638696, "threads": 1,
                      "area_offset": 32768, "area_size": 65536, "digest": 0}],
        "segments": [{"index": 0, "offset": MIB16, "size": None, "cipher": "aegis128-random", "integrity": "aead"}],
        "tokens": [],
        "digests": [{"index": 0, "type": "pbkdf2", "hash": "sha256", "iterations": 154202, "keyslots": [0]}],
    },
    "luksDump_luks2_aead_spaces_libstorage-ng-systeminfo.txt": {
        "parser": "luksDump",
        "fields": {"version": 2, "uuid": "dfcefa36-2548-45b7-98f4-700bd80fa67a", "epoch": 3, "label": None,
                   "cipher": "aegis128-random", "key_bits": 128, "data_offset": MIB16, "sector_size": 512,
                   "metadata_size": 16384, "keyslots_size": 16744448},
        "keyslots": [{"index": 0, "key_bits": 128, "cipher_key_bits": 512, "pbkdf": "argon2id", "time_cost": 4,
                      "memory_kib": 635984, "threads": 1, "area_offset": 32768, "area_size": 65536}],
        "segments": [{"index": 0, "offset": MIB16, "integrity": "aead", "sector_size": 512}],
        "digests": [{"index": 0, "iterations": 154202, "keyslots": [0]}],
    },
    "luksDump_luks2_label_libstorage-ng-systeminfo.txt": {
        "parser": "luksDump",
        "fields": {"version": 2, "uuid": "c8338763-450d-4143-92b2-dff843aff1ac", "label": "LUKS-TEST",
                   "cipher": "aes-xts-plain64", "key_bits": 512, "data_offset": MIB16, "sector_size": 512},
        "keyslots": [{"index": 0, "pbkdf": "argon2i", "time_cost": 9, "memory_kib": 1048576, "threads": 4,
                      "area_offset": 32768, "area_size": 258048}],
        "segments": [{"index": 0, "offset": MIB16, "size": None}],
        "tokens": [],
        "digests": [{"index": 0, "iterations": 140183}],
    },
    "luksDump_luks2_paes_old-format_libstorage-ng-systeminfo.txt": {
        "parser": "luksDump",
        "fields": {"version": 2, "uuid": "22ff3407-ae5d-4bc6-b0cf-462b75e0b6a0", "epoch": 4, "metadata_size": 12288,
                   "keyslots_size": None, "cipher": "paes-xts-plain64", "key_bits": 1024, "data_offset": 4194304,
                   "sector_size": 4096},
        "keyslots": [{"index": 0, "key_bits": 1024, "cipher": "aes-xts-plain64", "cipher_key_bits": None,
                      "af_hash": None, "pbkdf": "argon2i", "time_cost": 4, "memory_kib": 418482, "threads": 2,
                      "area_offset": 32768, "area_size": 512000, "digest": 0}],
        "segments": [{"index": 0, "offset": 4194304, "cipher": "paes-xts-plain64", "sector_size": 4096}],
        "tokens": [{"index": 0, "type": "paes-verification-pattern", "keyslots": []}],
        "digests": [{"index": 0, "iterations": 34204}],
    },
    "luksDump_luks2_tpm2-token_3-segments_REDACTED_insights.txt": {
        "parser": "luksDump",
        "fields": {"version": 2, "uuid": "cfbcc942-e06b-4c4a-952f-e9c9b2011c27", "epoch": 6, "data_offset": MIB16,
                   "sector_size": 4096, "key_bits": 512, "active_keyslots": [0, 1, 2], "free_keyslot": 3},
        "keyslots": [{"index": 0, "pbkdf": "argon2id", "time_cost": 7, "area_offset": 32768, "digest": 0},
                     {"index": 1, "pbkdf": "argon2id", "memory_kib": 1048576, "area_offset": 290816, "digest": 0},
                     {"index": 2, "pbkdf": "pbkdf2", "hash": "sha512", "iterations": 1000, "af_hash": "sha512",
                      "area_offset": 548864, "area_size": 258048, "digest": 0}],
        "segments": [{"index": 0, "offset": MIB16, "flags": []},
                     {"index": 1, "offset": MIB16, "flags": ["backup-previous"]},
                     {"index": 2, "offset": MIB16, "flags": ["backup-final"]}],
        "tokens": [{"index": 0, "type": "systemd-tpm2", "keyslots": [2]}],
        "digests": [{"index": 0, "iterations": 129774, "keyslots": [0, 1, 2]}],
    },
    "luksDump_luks2_two-keyslots_libstorage-ng-systeminfo.txt": {
        "parser": "luksDump",
        "fields": {"version": 2, "uuid": "30c4e059-7c30-4913-9c89-2d18bb818c87", "epoch": 4, "sector_size": 4096,
                   "data_offset": MIB16, "active_keyslots": [0, 1]},
        "keyslots": [{"index": 0, "pbkdf": "argon2id", "time_cost": 10, "cipher_key_bits": 512, "area_offset": 32768},
                     {"index": 1, "pbkdf": "argon2i", "time_cost": 9, "cipher_key_bits": 256, "area_offset": 290816}],
        "segments": [{"index": 0, "offset": MIB16, "sector_size": 4096}],
        "digests": [{"index": 0, "iterations": 136818, "keyslots": [0, 1]}],
    },
}
PARSERS = {"luksDump": parse_luks_dump, "luksDump-json": parse_luks2_json, "status": parse_crypt_status}


def test_every_corpus_sample_has_an_expectation(corpus: Path) -> None:
    """No sample of corpus/crypt goes unchecked, and no expectation names a sample that is gone."""
    assert sorted(p.name for p in (corpus / "crypt").iterdir()) == sorted(EXPECT)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_corpus_sample_parses(corpus: Path, name: str, luks_check) -> None:
    """The sample parses (read as bytes) to a typed result with the expected key fields."""
    expect = EXPECT[name]
    path = corpus / "crypt" / name
    result = PARSERS[expect["parser"]](path.read_bytes(), source=str(path))
    luks_check(result, expect)
