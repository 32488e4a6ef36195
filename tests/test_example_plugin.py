"""The third-party plugin example (``examples/plugins/pybofh-chattr``) passes its own test suite on this machine.

It runs in a child pytest rooted at the example's folder (its ``pyproject.toml`` is the ini file, so pybofh's root
``conftest.py`` is not used: only the fixtures pybofh-core ships and the example's own ``tests/conftest.py``), with
the example loaded without installing it: on ``PYTHONPATH`` and as the site plugin ``PYBOFH_EXTRA_PLUGINS=chattr=
pybofh_chattr``. Its loop-device tests need root, as ours do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "plugins" / "pybofh-chattr"
EXPECTED_TESTS = 87  # the example's tests, parametrized cases included; change with them


@pytest.mark.loopdev
def test_the_chattr_example_plugin_passes_its_own_tests(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the example's loop-device tests need root")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYBOFH_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(EXAMPLE), os.environ.get("PYTHONPATH", "")) if p)
    env["PYBOFH_EXTRA_PLUGINS"] = "chattr=pybofh_chattr"
    env["PYBOFH_CACHE_DIR"] = str(tmp_path / "cache")  # the discovery cache of this run only
    report = tmp_path / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLE / "tests"), "--rootdir", str(EXAMPLE),
         "-c", str(EXAMPLE / "pyproject.toml"), f"--junitxml={report}", "-q",
         "--basetemp", str(tmp_path / "basetemp")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
    assert done.returncode == 0, tail
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None, tail
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": EXPECTED_TESTS, "failures": 0, "errors": 0, "skipped": 0}, tail
