"""LUKS as a layer of the block-device stack model: an outer device whose ``open()`` gives ``/dev/mapper/NAME``.

The passphrase comes from the layer's own ``key`` or, when none was given, from ``pybofh_crypt.keys`` (providers
pushed around the job, then ``crypt.key_dir``). Sizes: ``overhead`` is the header's data offset read from
``luksDump`` (LUKS2 is usually 16 MiB, LUKS1 2 MiB, but other values exist), ``granularity`` the encryption sector
size; ``resize(size)`` resizes the open mapping with ``cryptsetup resize`` (passing the key when LUKS2 keeps the
volume key in the kernel keyring).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingT
from typing import Any

from pybofh_core.errors import ValidationError
from pybofh_core.layers import Layer
from pybofh_core.runner import same_path
from pybofh_core.validate import size_text

from . import facts, keys
from .checks import MAPPER
from .types import LuksDevice


class LuksLayer(Layer):
    """A LUKS1/LUKS2 header on ``device``; an open mapping over it is found whatever its name, else it opens as
    ``name`` (default ``luks-<UUID>``)."""

    container = True

    def __init__(
        self,
        device: str,
        probe: MappingT[str, str] | None = None,
        *,
        name: str | None = None,
        key: Any = None,
    ) -> None:
        super().__init__(device)
        self.probe = dict(probe or {})
        self._name = name
        self._key = None if key is None else keys.as_key(key)
        self._header: LuksDevice | None = None
        version = self.probe.get("VERSION", "")
        self.kind = f"luks{version}" if version in ("1", "2") else "luks"

    @property
    def header(self) -> LuksDevice:
        """The parsed header (read once per layer object: its offsets do not change while it lives)."""
        if self._header is None:
            self._header = facts.dump(self.device)
            self.kind = f"luks{int(self._header.version)}"
        return self._header

    @property
    def uuid(self) -> str | None:
        """The LUKS UUID, from the probe when it has one, else from the header."""
        return self.probe.get("UUID") or self.header.uuid

    @property
    def name(self) -> str:
        """The mapping over this device: the one open now, whatever its name, else the name it opens as."""
        if self._name is None:
            found = facts.mapping_over(self.device)
            if found is not None:
                self._name = found  # kept: a close and a reopen of this layer use the same name
                return found
        return self._name or f"luks-{self.uuid}"

    @property
    def granularity(self) -> int:
        """The encryption sector size: the inner device's size must be a multiple of it."""
        return self.header.sector_size

    @property
    def overhead(self) -> int:
        """Bytes of the outer device before the encrypted data (the header and key slots)."""
        return self.header.data_offset

    def current_size(self) -> int | None:
        """The open mapping's size (what the LUKS volume's content may use); None while closed (a closed LUKS2
        volume spans whatever its device holds, so nothing says how much of it the content needs)."""
        return facts.status(self.name).size if facts.is_open(self.name) else None

    @property
    def inner(self) -> str | None:
        """``/dev/mapper/NAME`` when this layer's mapping is open, else None."""
        return MAPPER + self.name if facts.is_open(self.name) else None

    def key(self) -> keys.Key:
        """The passphrase or key file that opens this device."""
        return self._key if self._key is not None else keys.lookup(self.device, self.uuid)

    def open(self) -> str:
        """Open the mapping (or reuse it when it is already open over this device) and return its path."""
        from . import ops

        if facts.is_open(self.name):
            st = facts.status(self.name)
            if st.device and not same_path(st.device, self.device):
                raise ValidationError(f"mapping {self.name} is open over {st.device}, not {self.device}")
            return st.path
        return ops.open(self.device, self.name, self.key()).path

    def close(self) -> None:
        """Close the mapping if it is open."""
        from . import ops

        if facts.is_open(self.name):
            ops.close(self.name)

    def resize(self, size: int | None) -> None:
        """Make the open mapping ``size`` bytes (None: fill the outer device)."""
        from . import ops

        if not facts.is_open(self.name):
            if size is None:
                return  # a closed LUKS device always spans its whole outer device
            raise ValidationError(f"LUKS layer on {self.device} is not open: open it before resizing to "
                                  f"{size_text(size)}")
        st = facts.status(self.name)
        ops.resize(self.name, size, passphrase=self.key() if st.key_location == "keyring" else None)
