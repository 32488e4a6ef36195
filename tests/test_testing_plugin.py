"""The shipped pytest plugin (``pybofh_core.testing``, entry point ``pytest11: pybofh``): a plugin's test suite
outside this repository gets ``fake_runner``, ``bofh``, ``pybofh_isolated`` and ``loop_factory`` with no conftest,
and a project that does not use them sees no autouse fixture of ours."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

THIRD_PARTY_TESTS = textwrap.dedent('''
    import json
    import os
    import subprocess

    import pytest

    from pybofh_core.errors import ToolUnavailableError


    @pytest.fixture(autouse=True)
    def _isolated(pybofh_isolated):
        yield pybofh_isolated


    def test_isolated_journal_dir(pybofh_isolated):
        assert os.environ["PYBOFH_JOURNAL_DIR"] == str(pybofh_isolated)


    def test_fake_runner_answers_and_records(fake_runner):
        from pybofh_core.runner import run

        fake_runner.expect(["lvs", "--version"], "  LVM version: 2.03.16(2)")
        assert "2.03.16" in run(["lvs", "--version"], readonly=True).text
        assert fake_runner.calls[0][0] == "lvs"


    def test_fake_runner_tools_table_drives_the_declared_tools_check(fake_runner):
        import pybofh_lvm.ops as ops

        fake_runner.tools = set()
        with pytest.raises(ToolUnavailableError, match="lvcreate"):
            ops.create_lv("vg0", "data", "1G")
        assert fake_runner.calls == []


    def test_bofh_in_process(bofh):
        done = bofh("plugins", "--json")
        assert done.code == 0 and "lvm" in {p["name"] for p in json.loads(done.out)}
        bad = bofh("lvm", "lv", "create", "vg0", "bad name", "1G")
        assert bad.code == 2 and bad.err.startswith("bofh: error: ") and len(bad.err.strip().splitlines()) == 1


    def test_loop_factory_makes_a_real_loop_device(loop_factory):
        dev = loop_factory(8 * 1024**2)
        assert dev.startswith("/dev/loop")
        assert subprocess.run(["blockdev", "--getsize64", dev], capture_output=True, text=True,
                              check=True).stdout.strip() == str(8 * 1024**2)
''')

UNRELATED_TESTS = textwrap.dedent('''
    import os

    def test_nothing_of_pybofh_is_forced_on_an_unrelated_project():
        assert "PYBOFH_JOURNAL_DIR" not in os.environ
''')


def _pytest(tmp_path: Path, name: str, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYBOFH_", "PYTEST_"))}
    env["PYBOFH_CACHE_DIR"] = str(tmp_path / "cache")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                           str(tmp_path), str(tmp_path / name)], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)


def test_a_third_party_suite_gets_the_fixtures_without_a_conftest(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "test_third_party.py", THIRD_PARTY_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert not (tmp_path / "conftest.py").exists()


def test_an_unrelated_project_sees_no_autouse_fixture(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "test_unrelated.py", UNRELATED_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
