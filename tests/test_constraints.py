"""constraints.txt: exact pins, closed over their own dependencies, inside the bounds the pyproject files declare.

Every install path (scripts/setup, noxfile.py, the VM guest, the venvs tests build) passes constraints.txt to pip;
``nox -s lock`` rewrites it. These tests catch a lock that no longer covers what the project declares.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
PROJECTS = [ROOT / "pybofh_core", *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]


def _pins() -> dict[str, Version]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            (spec,) = req.specifier
            pins[req.name] = Version(spec.version)
    return pins


def _pyproject(project: Path) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text())


def _requirement_names(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [canonicalize_name(Requirement(line).name) for line in lines if line]


def test_every_line_is_an_exact_pin_sorted_unique_and_not_ours() -> None:
    """``name==version`` lines only (canonical names, no markers or extras), sorted, each once, no pybofh-*."""
    text = CONSTRAINTS.read_text()
    assert "nox -s lock" in text.split("\n\n")[0], "the header says how to refresh the file"
    names = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        assert str(req) == line, line
        assert req.name == canonicalize_name(req.name), line
        assert not req.extras and req.marker is None and not req.url, line
        assert [s.operator for s in req.specifier] == ["=="], line
        assert not req.name.startswith("pybofh-"), line
        names.append(req.name)
    assert names == sorted(set(names))
    assert {"pip", "setuptools", "pluggy", "stevedore", "typer"} <= set(names)


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_pyproject_requirements_are_pinned_inside_their_bounds(project: Path) -> None:
    """Every build and runtime requirement is pinned, the pin satisfies the declared range, and the range is closed.

    The project's own distributions are not pinned; their ranges must hold the version of the tree beside them.
    """
    pins = _pins()
    data = _pyproject(project)
    meta = data["project"]
    reqs = [*data["build-system"]["requires"], *meta.get("dependencies", [])]
    reqs += [r for extra in meta.get("optional-dependencies", {}).values() for r in extra]
    ours = {canonicalize_name(_pyproject(p)["project"]["name"]): _pyproject(p)["project"]["version"] for p in PROJECTS}
    for req in map(Requirement, reqs):
        name = canonicalize_name(req.name)
        if name in ours:
            assert req.specifier.contains(ours[name]), f"{req} excludes {name} {ours[name]} of this tree"
            assert any(s.operator == "<" for s in req.specifier), f"{req}: no upper bound"
            continue
        assert name in pins, f"{req} ({project.name}) is not pinned in constraints.txt: run nox -s lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"the pin {name}=={pins[name]} is outside {req}"
        if name != "setuptools":  # the build back-end: a floor only
            assert any(s.operator == "<" for s in req.specifier), f"{req} ({project.name}): no upper bound"


def test_tools_and_guest_requirements_are_pinned() -> None:
    """The tools scripts/setup installs and the VM guest's packages are all pinned."""
    pins = _pins()
    for path in (ROOT / "requirements-dev.txt", ROOT / "tests" / "vm" / "guest-requirements.txt"):
        missing = [name for name in _requirement_names(path) if name not in pins]
        assert missing == [], f"{path.name}: not in constraints.txt: {missing}; run nox -s lock"


def test_pins_are_closed_under_their_dependencies() -> None:
    """What an installed pinned package (at its pinned version) requires is pinned as well: the lock is complete."""
    pins = _pins()
    checked, missing = 0, []
    for name, version in pins.items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(dist.version) != version:
            continue
        checked += 1
        for req in map(Requirement, dist.requires or []):
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if canonicalize_name(req.name) not in pins:
                missing.append(f"{req} (required by {name})")
    if checked == 0:
        pytest.skip("no package of constraints.txt is installed here at its pinned version")
    assert missing == [], "not pinned in constraints.txt (run nox -s lock):\n" + "\n".join(missing)
