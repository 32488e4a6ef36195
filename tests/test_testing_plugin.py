"""The shipped pytest plugin (``pybofh_core.testing``, entry point ``pytest11: pybofh``): a plugin's test suite
outside this repository gets ``fake_runner``, ``bofh``, ``pybofh_isolated`` and ``loop_factory`` with no conftest,
and a project that does not use them sees no autouse fixture of ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pybofh_core.testing import SIDECAR, Recordings, load_recording, write_recording

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


# --- recordings: one format, one loader ----------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
SIDECARS = sorted(REPO.glob("plugins/*/tests/recordings/**/*.meta.json"))


def test_there_are_side_cars_in_every_plugin_with_recordings() -> None:
    with_recordings = {p.parents[1].name for p in REPO.glob("plugins/*/tests/recordings")}
    assert len(SIDECARS) > 250
    assert {p.relative_to(REPO / "plugins").parts[0] for p in SIDECARS} == with_recordings


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.relative_to(REPO / "plugins").as_posix())
def test_every_side_car_parses_with_the_one_loader(sidecar: Path) -> None:
    rec = load_recording(sidecar)
    assert rec.stdout_path.is_file() or rec.path.with_name(rec.name + ".stderr.txt").is_file() or rec.note, \
        f"{sidecar.name}: a recording with neither output file must say why in its note"


def test_every_recorded_output_has_a_side_car() -> None:
    """A ``.txt`` under recordings/ is a recorded stdout or stderr: its side-car says what ran and how it ended."""
    outputs = sorted(REPO.glob("plugins/*/tests/recordings/**/*.txt"))
    orphans = [p for p in outputs
               if not p.with_name(p.name.removesuffix(".txt").removesuffix(".stderr") + SIDECAR).is_file()]
    assert outputs and not orphans, f"add a side-car ({SIDECAR}) for {orphans[:5]}"
    leftovers = [p for p in REPO.glob("plugins/*/tests/recordings/**/*")
                 if p.suffix in (".rc", ".json") and not p.name.endswith(SIDECAR)]
    assert not leftovers, f"side-cars of an older format: {leftovers[:5]}"


def _write(directory: Path, stem: str, meta: object, out: bytes | None = None, err: bytes | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stem}{SIDECAR}").write_text(json.dumps(meta))
    if out is not None:
        (directory / f"{stem}.txt").write_bytes(out)
    if err is not None:
        (directory / f"{stem}.stderr.txt").write_bytes(err)
    return directory / f"{stem}{SIDECAR}"


def test_a_recording_reads_its_outputs_and_fills_its_paths(tmp_path: Path) -> None:
    sidecar = _write(tmp_path / "btrfs", "show_mnt-6.2", {
        "argv": ["btrfs", "show", "--", "$MNT2", "$MNT/x"], "returncode": 1, "paths": {"MNT": "/m", "MNT2": "/n"},
        "note": "n", "expected": {"a": 1}}, err=b"\xff oops\n")
    rec = load_recording(sidecar)
    assert (rec.case, rec.version, rec.tool, rec.name) == ("show_mnt", "6.2", "btrfs", "show_mnt-6.2")
    assert (rec.stdout, rec.stderr, rec.returncode, rec.expected) == (b"", b"\xff oops\n", 1, {"a": 1})
    assert rec.filled_argv() == ["btrfs", "show", "--", "/n", "/m/x"]


@pytest.mark.parametrize(("stem", "meta", "message"), [
    ("x-1.0", {"argv": None}, "needs 'argv' and 'returncode'"),
    ("x-1.0", {"argv": None, "returncode": 0, "expect": {}}, "unknown \\['expect'\\]"),
    ("x-1.0", {"argv": "lvs -a", "returncode": 0}, "'argv' is str"),
    ("x-1.0", {"argv": ["lvs", 1], "returncode": 0}, "list of strings"),
    ("x-1.0", {"argv": None, "returncode": "0"}, "'returncode' must be an integer"),
    ("x-1.0", {"argv": None, "returncode": 0, "paths": {"A": 1}}, "'paths' maps names"),
    ("no-version", {"argv": None, "returncode": 0}, "no tool version"),
    ("x-1.0", [], "not a JSON object"),
])
def test_a_side_car_that_is_not_the_format_is_refused(tmp_path: Path, stem: str, meta: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_recording(_write(tmp_path / "t", stem, meta, out=b""))


def test_recordings_finds_the_newest_version_and_every_case(tmp_path: Path) -> None:
    for version in ("2.9.1", "2.10.0"):
        _write(tmp_path / "lvs", f"two-lvs-{version}", {"argv": None, "returncode": 0}, out=version.encode())
    _write(tmp_path / "pvs", "swap-header-16m-2.38.1", {"argv": None, "returncode": 0}, out=b"p")
    recs = Recordings(tmp_path)
    assert recs.get("lvs", "two-lvs").stdout == b"2.10.0" and recs("lvs", "two-lvs", "2.9.1").stdout == b"2.9.1"
    assert [r.name for r in recs.all()] == ["two-lvs-2.10.0", "two-lvs-2.9.1", "swap-header-16m-2.38.1"]
    assert recs.get("pvs", "swap-header-16m").version == "2.38.1"
    assert recs.output("pvs", "swap-header-16m-2.38.1.txt") == b"p"
    with pytest.raises(FileNotFoundError):
        recs.get("lvs", "three-lvs")


def test_the_fixture_finds_the_recordings_beside_the_test(tmp_path: Path) -> None:
    """A third-party suite gets ``pybofh_recordings`` for the ``recordings`` folder beside its tests."""
    _write(tmp_path / "recordings" / "t", "c-1.0", {"argv": ["t"], "returncode": 0}, out=b"out")
    done = _pytest(tmp_path, "test_rec.py", "def test_it(pybofh_recordings):\n"
                                            "    assert pybofh_recordings.get('t', 'c').stdout == b'out'\n")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr


# --- the one writer: what the record scripts write is what the loader reads ------------------------------------------

def test_a_written_recording_reads_back_byte_for_byte(tmp_path: Path) -> None:
    """stdout and stderr are kept verbatim (not UTF-8, NULs, CRLF), every side-car field comes back as given."""
    out, err = b"Donn\xe9es\x00\r\n\xff", b"warning: \xe9\n"
    sidecar = write_recording(
        tmp_path, "blkid", "probe-latin1", "2.38.1", argv=("blkid", "-p", "--", "$DEV"), stdout=out, stderr=err,
        returncode=2, paths={"DEV": "/dev/loop0"}, where="vm", note="label in Latin-1",
        expected={"label": "Donn\u00e9es", "sizes": [1, 2.5, None]})
    assert sidecar == tmp_path / "blkid" / f"probe-latin1-2.38.1{SIDECAR}"
    rec = load_recording(sidecar)
    assert (rec.stdout, rec.stderr, rec.returncode, rec.argv) == (out, err, 2, ["blkid", "-p", "--", "$DEV"])
    assert (rec.tool, rec.case, rec.version, rec.paths, rec.where, rec.note) == (
        "blkid", "probe-latin1", "2.38.1", {"DEV": "/dev/loop0"}, "vm", "label in Latin-1")
    assert rec.expected == {"label": "Donn\u00e9es", "sizes": [1, 2.5, None]}
    assert (tmp_path / "blkid" / "probe-latin1-2.38.1.txt").read_bytes() == out
    text = sidecar.read_text(encoding="ascii")
    assert text.endswith("}\n") and text.startswith('{\n "argv": [\n  "blkid",')
    assert list(json.loads(text)) == ["argv", "returncode", "paths", "where", "note", "expected"]
    again = write_recording(tmp_path, "blkid", "probe-latin1", "2.38.1", argv=["blkid", "-p", "--", "$DEV"],
                            stdout=out, stderr=err, returncode=2, paths={"DEV": "/dev/loop0"}, where="vm",
                            note="label in Latin-1", expected={"label": "Donn\u00e9es", "sizes": [1, 2.5, None]})
    assert again.read_text(encoding="ascii") == text  # re-recording the same output changes no byte


def test_an_empty_stream_has_no_file_and_a_silent_command_says_so(tmp_path: Path) -> None:
    """Empty streams leave no file (stale ones of an earlier recording are removed); with neither stream the
    side-car's note says the command printed nothing, as the meta-test above requires."""
    write_recording(tmp_path, "umount", "ext4", "2.38.1", argv=["umount", "/m"], stdout=b"old", stderr=b"old",
                    returncode=0)
    sidecar = write_recording(tmp_path, "umount", "ext4", "2.38.1", argv=["umount", "/m"], stdout=b"", stderr=b"",
                              returncode=0, paths={}, where="", note=None)
    assert sorted(p.name for p in (tmp_path / "umount").iterdir()) == [f"ext4-2.38.1{SIDECAR}"]
    rec = load_recording(sidecar)
    assert (rec.stdout, rec.stderr, rec.note) == (b"", b"", "the command printed nothing on stdout or stderr")
    assert list(json.loads(sidecar.read_text())) == ["argv", "returncode", "note"]
    quiet = write_recording(tmp_path, "t", "c", "1.0", argv=None, stdout=b"", stderr=b"x", returncode=1)
    assert json.loads(quiet.read_text()) == {"argv": None, "returncode": 1}


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"argv": "lvs -a"}, TypeError, "argv must be a list of strings"),
    ({"argv": ["lvs", 1]}, TypeError, "argv must be a list of strings"),
    ({"argv": [b"lvs"]}, TypeError, "argv must be a list of strings"),
    ({"returncode": "0"}, TypeError, "returncode must be an int"),
    ({"returncode": True}, TypeError, "returncode must be an int"),
    ({"returncode": None}, TypeError, "returncode must be an int"),
    ({"stdout": "text"}, TypeError, "stdout must be the bytes"),
    ({"stderr": None}, TypeError, "stderr must be the bytes"),
    ({"paths": {"A": 1}}, TypeError, "paths maps names"),
    ({"paths": ["A"]}, TypeError, "paths must be a mapping"),
    ({"where": 1}, TypeError, "where must be a string"),
    ({"note": b"n"}, TypeError, "note must be a string"),
    ({"expected": {"when": object()}}, ValueError, "expected is not JSON"),
    ({"expected": float("nan")}, ValueError, "expected is not JSON"),
    ({"tool": "a/b"}, ValueError, "cannot be part of a file name"),
    ({"tool": ".."}, ValueError, "cannot be part of a file name"),
    ({"case": ""}, ValueError, "cannot be part of a file name"),
    ({"version": "latest"}, ValueError, "does not read back"),
    ({"case": "dump-1.2", "version": "3.0"}, ValueError, "does not read back"),  # would load as case "dump"
    ({"expect": {}}, TypeError, "unexpected keyword argument 'expect'"),  # no side-car key outside the format
])
def test_the_writer_refuses_what_the_loader_would_not_read(tmp_path: Path, changes: dict[str, object],
                                                           error: type[Exception], message: str) -> None:
    """Checked before anything is written: a refused recording leaves no file behind."""
    args: dict[str, object] = {"tool": "lvs", "case": "two-lvs", "version": "2.03.16", "argv": ["lvs"],
                               "stdout": b"out", "stderr": b"", "returncode": 0, **changes}
    positional = [args.pop(k) for k in ("tool", "case", "version")]
    with pytest.raises(error, match=message):
        write_recording(tmp_path / "rec", *positional, **args)  # type: ignore[arg-type]
    assert not (tmp_path / "rec").exists()


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.relative_to(REPO / "plugins").as_posix())
def test_the_writer_writes_the_style_of_the_recordings_kept(sidecar: Path, tmp_path: Path) -> None:
    """Re-writing a kept recording from what the loader read gives the same side-car, byte for byte (but where
    the writer adds the note a silent command needs, or leaves out an explicit ``"expected": null``)."""
    rec = load_recording(sidecar)
    written = write_recording(tmp_path, rec.tool, rec.case, rec.version, argv=rec.argv, stdout=rec.stdout,
                              stderr=rec.stderr, returncode=rec.returncode, paths=rec.paths, where=rec.where,
                              note=rec.note, expected=rec.expected)
    assert load_recording(written).stdout == rec.stdout and load_recording(written).stderr == rec.stderr
    kept = json.loads(sidecar.read_text(encoding="utf-8"))
    adjusted = dict(kept)
    if "expected" in adjusted and adjusted["expected"] is None:
        del adjusted["expected"]  # absent and null read the same: the writer leaves it out
    if not (rec.stdout or rec.stderr or rec.note):
        adjusted["note"] = "the command printed nothing on stdout or stderr"
    if adjusted == kept:
        assert written.read_bytes() == sidecar.read_bytes()
    else:
        assert json.loads(written.read_text()) == adjusted


def test_isolation_keeps_the_discovery_cache_in_the_session(pybofh_isolated: Path,
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    """``pybofh_isolated`` points the plugin discovery cache at one directory of the test session: a suite writes
    nothing under the user's ``~/.cache``."""
    cache = Path(os.environ["PYBOFH_CACHE_DIR"])
    assert cache.is_relative_to(tmp_path_factory.getbasetemp()) and cache.name.startswith("pybofh-cache")


def test_same_plan_sets_only_placeholders_aside() -> None:
    """``same_plan`` compares a plan with a run command by command; a ``<placeholder>`` matches one word only."""
    import re

    from pybofh_core.testing import same_plan

    plan = [("crypt.close", ["cryptsetup close -- <mapping of /dev/x>"])]
    assert same_plan(plan, [("crypt.close", ["cryptsetup close -- luks-1"])])
    assert not same_plan(plan, [("crypt.close", ["cryptsetup close luks-1"])])  # an argument missing
    assert not same_plan(plan, [("crypt.close", ["cryptsetup close -- luks 1"])])  # two words for one placeholder
    assert not same_plan(plan, [("crypt.open", ["cryptsetup close -- luks-1"])])
    assert not same_plan(plan, [*plan, *plan])
    loop = re.compile(r"/dev/loop\(next free[^)]*\)")
    assert same_plan([("a", ["mkfs -- /dev/loop(next free, for f)"])], [("a", ["mkfs -- /dev/loop3"])],
                     placeholder=loop)
