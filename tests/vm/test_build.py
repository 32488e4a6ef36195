"""The guest's recipe: pip requirements pinned by the repository's constraints.txt, whatever Python builds it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Absolute import on purpose (see conftest.py): the same module the fixtures use.
from tests.vm import build


def test_guest_requirements_take_their_versions_from_constraints() -> None:
    """Each bare name of guest-requirements.txt gets the version constraints.txt pins."""
    pins = build.read_constraints()
    reqs = build.guest_requirements()
    assert reqs, "the guest installs something from PyPI"
    for req in reqs:
        name, _, version = req.partition("==")
        assert version == pins[build._canonical(name)], req


def test_a_name_without_a_pin_is_an_error(tmp_path: Path) -> None:
    """A guest requirement constraints.txt does not pin stops the build instead of taking the newest release."""
    partial = tmp_path / "constraints.txt"
    partial.write_text(
        "".join(line + "\n" for line in build.CONSTRAINTS.read_text().splitlines() if "typer" not in line)
    )
    with pytest.raises(build.BuildError, match=r"typer .* has no pin"):
        build.guest_requirements(partial)


def test_a_line_that_is_no_exact_pin_is_an_error(tmp_path: Path) -> None:
    """constraints.txt holds exact pins only; a range is refused with the line named."""
    loose = tmp_path / "constraints.txt"
    loose.write_text("# header\npytest>=8\n")
    with pytest.raises(build.BuildError, match=r"not an exact pin .*pytest>=8"):
        build.read_constraints(loose)


def test_cache_key_follows_the_pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing any pin, also one the guest's requirements only pull in, names a new image; same pins, same image."""
    key = build.cache_key()
    copy = tmp_path / "constraints.txt"
    shutil.copy(build.CONSTRAINTS, copy)
    monkeypatch.setattr(build, "CONSTRAINTS", copy)
    assert build.cache_key() == key
    direct = {build._canonical(req.partition("==")[0]) for req in build.guest_requirements()}
    other = next(name for name in build.read_constraints() if name not in direct)
    text = copy.read_text()
    copy.write_text(text.replace(f"\n{other}==", f"\n{other}==0.0.0+"))
    assert build.read_constraints()[other].startswith("0.0.0+")
    assert build.cache_key() != key


def test_cache_key_does_not_depend_on_the_python_that_computes_it() -> None:
    """The key (and so the guest) is the same whether the venv's Python or Debian's bare python3 computes it."""
    others = [
        p
        for p in ("/usr/bin/python3", shutil.which("python3"))
        if p and Path(p).resolve() != Path(sys.executable).resolve()
    ]
    if not others:
        pytest.skip("no second Python on this machine")
    script = Path(build.__file__)
    keys = {
        python: subprocess.run([python, script, "--print-key"], capture_output=True, text=True, check=True).stdout
        for python in [sys.executable, *others]
    }
    assert len(set(keys.values())) == 1, keys
