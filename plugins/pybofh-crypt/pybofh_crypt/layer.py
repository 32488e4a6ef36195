"""Old name of `pybofh_crypt.layers`, kept so existing imports (``from pybofh_crypt.layer import LuksLayer``)
work. A shim: re-exports only; new code imports ``pybofh_crypt.layers``."""

from __future__ import annotations

from .layers import LuksLayer as LuksLayer

__all__ = ["LuksLayer"]
