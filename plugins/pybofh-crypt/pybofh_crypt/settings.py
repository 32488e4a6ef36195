"""Settings of the crypt plugin (namespace ``crypt``): what ``format`` and ``add_key`` use unless told otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class CryptSettings:
    """``[crypt]`` in config.toml, ``PYBOFH_CRYPT__<KEY>`` in the environment."""

    luks_type: str = "luks2"
    """Header format ``format`` writes: ``luks1`` or ``luks2``."""
    cipher: str = "aes-xts-plain64"
    """Data cipher for new headers."""
    key_size: int = 512
    """Volume key size in bits (512 = AES-256 in XTS mode)."""
    hash: str = "sha256"
    """Hash for the PBKDF2 and anti-forensic splitter."""
    pbkdf: str = "argon2id"
    """Key derivation for new LUKS2 key slots: argon2id, argon2i or pbkdf2 (LUKS1 always uses pbkdf2)."""
    pbkdf_memory: int | None = None
    """Argon2 memory cost in KiB (None: cryptsetup's benchmark decides)."""
    pbkdf_parallel: int | None = None
    """Argon2 threads (None: cryptsetup decides)."""
    iter_time: int | None = None
    """Milliseconds the PBKDF should take when unlocking (None: cryptsetup's default, 2000)."""
    pbkdf_force_iterations: int | None = None
    """Force this iteration/time cost and skip the benchmark (tests set it low to run fast)."""
    sector_size: int | None = None
    """LUKS2 encryption sector size in bytes (None: cryptsetup picks it from the device)."""
    key_dir: Path | None = None
    """Directory of key files named ``<LUKS UUID>`` (mode 0600) used to open LUKS layers of a stack."""
    keyring: bool = True
    """Let LUKS2 keep the volume key in the kernel keyring when opening (then resize needs the passphrase)."""
