"""Fixtures shared by the core's and the plugins' tests: isolated settings and journal (on for every test), the
corpus; ``fake_runner``, ``loop_factory`` and ``bofh`` come from the shipped plugin ``pybofh_core.testing``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

# The VM test bed: needs_dm / vm_pair tests run inside a qemu guest when this kernel has no device-mapper.
pytest_plugins = ["tests.vm.pytest_vm"]


def corpus_dir() -> Path | None:
    """The shared corpus of real tool outputs (``../shared/corpus`` beside the checkout, or ``$PYBOFH_CORPUS``)."""
    env = os.environ.get("PYBOFH_CORPUS")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "corpus", ROOT.parent.parent / "shared" / "corpus"]
    for c in candidates:
        if (c / "README.md").is_file():
            return c
    return None


@pytest.fixture(autouse=True)
def _isolated_settings(pybofh_isolated: Path) -> Path:
    """Every test gets its own journal dir and ignores the user's and the system's config files (the shipped
    ``pybofh_isolated`` fixture, turned on for all of pybofh's own tests)."""
    return pybofh_isolated


@pytest.fixture
def journal_dir(_isolated_settings: Path) -> Path:
    """The journal directory this test's atomic blocks write to."""
    return _isolated_settings


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus directory; tests using it skip with a reason when it is absent."""
    path = corpus_dir()
    if path is None:
        pytest.skip("the shared corpus (../shared/corpus or $PYBOFH_CORPUS) is not present in this checkout")
    return path


def pytest_configure(config: pytest.Config) -> None:
    """The fixtures ``fake_runner``, ``loop_factory``, ``bofh`` and ``pybofh_isolated`` come from pybofh-core's
    shipped pytest plugin (entry point ``pybofh``), as for a third-party plugin's tests; load it by module when
    plugin auto-loading is off."""
    if not config.pluginmanager.has_plugin("pybofh") and not config.pluginmanager.has_plugin("pybofh_core.testing"):
        config.pluginmanager.import_plugin("pybofh_core.testing")
