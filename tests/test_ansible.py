"""The Ansible collection pybofh.storage (``integrations/ansible``), with ansible-core from constraints.txt.

``ansible-test sanity --venv`` on the collection laid out as ``ansible_collections/pybofh/storage``; the collection
built with ``ansible-galaxy collection build``, installed, and run by ``ansible-playbook`` against localhost (loop
devices), against a loopback sshd host (a real ssh connection) and, for LVM and LUKS, inside the VM test bed (the
guest runs the playbook itself, connection local). The localhost and sshd runs assert check mode (the plan, nothing
changed), diff mode, the run, idempotency (``changed: false`` the second time), a failure rolled back with its
journal id, conflicts and strict idempotency; the VM run the LVM/LUKS stack, its idempotency and its rollback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "integrations" / "ansible"
MIB = 1024**2
NO_ANSIBLE = "ansible-core is not installed: .venv/bin/pip install -c constraints.txt -r requirements-ansible.txt"
PW = "ansible job passphrase 7f3a"
#: cheap key derivation for the LUKS steps (the crypt plugin's settings through the play's environment)
FAST_KDF = {"PYBOFH_CRYPT__PBKDF": "pbkdf2", "PYBOFH_CRYPT__PBKDF_FORCE_ITERATIONS": "1000"}

Play = Callable[..., dict[str, dict[str, Any]]]


# --- ansible-core, the built collection, and ansible-playbook ---------------------------------------------------------


def ansible_pythonpath() -> str | None:
    """Where ansible-core imports from: "" (this interpreter has it), else the site-packages of the project's
    ``.venv`` (or a nox venv) holding it: inside the VM guest, which sees the project tree read-only at the same path
    and has no ansible-core of its own; None when there is none."""
    if importlib.util.find_spec("ansible") is not None:
        return ""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for venv in [ROOT / ".venv", *sorted((ROOT / ".nox").glob("*"))]:
        site = venv / "lib" / version / "site-packages"
        if (site / "ansible" / "__init__.py").is_file():
            return str(site)
    return None


def _ansible_env(base: Path) -> dict[str, str]:
    """Environment of ansible's own commands: everything of theirs inside ``base``, plain output, UTF-8."""
    env = {**os.environ, "ANSIBLE_HOME": str(base / "home"), "ANSIBLE_LOCAL_TEMP": str(base / "tmp"),
           "ANSIBLE_COLLECTIONS_PATH": str(base / "collections"), "ANSIBLE_NOCOLOR": "1", "LC_ALL": "C.UTF-8",
           "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
           "ANSIBLE_PIPELINING": "true", "ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o ControlPath=none",
           "ANSIBLE_RETRY_FILES_ENABLED": "false"}
    extra = ansible_pythonpath()
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), extra) if p)
    return env


def ansible_cli(name: str, *args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``ansible-NAME`` (``ansible.cli.NAME``) with this interpreter."""
    return subprocess.run([sys.executable, "-m", f"ansible.cli.{name}", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """The collection built with ``ansible-galaxy collection build`` and installed from its tarball (offline) into
    a private collections path; returns the base folder of ansible's files for this test."""
    if ansible_pythonpath() is None:
        pytest.skip(NO_ANSIBLE)
    base = tmp_path / "ansible"
    base.mkdir()
    env = _ansible_env(base)
    built = ansible_cli("galaxy", "collection", "build", str(COLLECTION), "--output-path", str(base), env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    (tarball,) = base.glob("pybofh-storage-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert {"plugins/modules/job.py", "plugins/modules/facts.py", "plugins/module_utils/pybofh_job.py",
            "README.md", "MANIFEST.json"} <= names
    installed = ansible_cli("galaxy", "collection", "install", str(tarball), "-p", str(base / "collections"), env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return base


#: a callback (test-only, written next to the playbooks) that records each task's result by name as one JSON file:
#: ansible-core 2.19 moved its ``json`` stdout callback out to the ansible.posix collection
RECORDER = """
import json, os
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "pybofh_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.results = {}

    def _keep(self, result, **flags):
        self.results.setdefault(str(result.host), {})[result.task_name] = {**result.result, **flags}

    def v2_runner_on_ok(self, result):
        self._keep(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._keep(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._keep(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["PYBOFH_ANSIBLE_RESULTS"], "w") as fh:
            json.dump(self.results, fh, default=str)
"""


def play_runner(base: Path, host: str, hostvars: dict[str, Any], environment: dict[str, str]) -> Play:
    """``play(tasks, *flags)`` runs one play of ``tasks`` against ``host`` with ansible-playbook (default callback)
    and returns each task's result by name; ``environment`` reaches the modules on the target. ``play.last`` is the
    finished ansible-playbook process."""
    env = _ansible_env(base)
    (base / "callbacks").mkdir(exist_ok=True)
    (base / "callbacks" / "pybofh_record.py").write_text(RECORDER)
    env |= {"ANSIBLE_CALLBACK_PLUGINS": str(base / "callbacks"), "ANSIBLE_CALLBACKS_ENABLED": "pybofh_record"}
    inventory = base / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {host: hostvars}}}))
    runs = 0

    def play(tasks: list[dict[str, Any]], *flags: str) -> dict[str, dict[str, Any]]:
        nonlocal runs
        runs += 1
        book, results = base / f"play{runs}.yml", base / f"results{runs}.json"  # JSON is YAML
        book.write_text(json.dumps([{"hosts": "all", "gather_facts": False, "environment": environment,
                                     "tasks": tasks}], indent=1))
        res = ansible_cli("playbook", "-i", str(inventory), str(book), *flags,
                          env={**env, "PYBOFH_ANSIBLE_RESULTS": str(results)})
        play.last = res  # type: ignore[attr-defined]
        assert res.returncode == 0, res.stdout + res.stderr
        assert "unreachable=0" in res.stdout, res.stdout
        return json.loads(results.read_text())[host]  # type: ignore[no-any-return]

    return play  # type: ignore[return-value]


def module_env(**extra: str) -> dict[str, str]:
    """What pybofh on the target gets: this test's journal, lock and cache directories (from the autouse fixture)."""
    keys = ("PYBOFH_JOURNAL_DIR", "PYBOFH_LOCK_DIR", "PYBOFH_MOUNTPOOL_LOCK_DIR", "XDG_CONFIG_HOME")
    env = {k: os.environ[k] for k in keys if k in os.environ}
    env["PYBOFH_CACHE_DIR"] = str(Path(os.environ["PYBOFH_JOURNAL_DIR"]).parent / "cache")
    if "PYTHONPATH" in os.environ:  # the VM guest finds the project's packages through it
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return {**env, **extra}


def job(name: str, operations: list[dict[str, Any]], *, check: bool = False, diff: bool = False,
        expect_failure: bool = False, **options: Any) -> dict[str, Any]:
    """A pybofh.storage.job task."""
    task: dict[str, Any] = {"name": name, "pybofh.storage.job": {"operations": operations, **options}}
    if check:
        task["check_mode"] = True
    if diff:
        task["diff"] = True
    if expect_failure:
        task["ignore_errors"] = True
    return task


def facts(name: str) -> dict[str, Any]:
    """A pybofh.storage.facts task."""
    return {"name": name, "pybofh.storage.facts": {}}


def storage(result: dict[str, Any]) -> dict[str, Any]:
    """The pybofh_storage fact of a facts task's result."""
    assert not result.get("failed"), result
    return result["ansible_facts"]["pybofh_storage"]


def pv_names(overview: dict[str, Any]) -> set[str]:
    """Devices LVM reports as PVs in a facts overview."""
    return {os.path.realpath(p["name"]) for p in overview["lvm"]["pvs"]}


def mounted_at(overview: dict[str, Any], target: Path) -> str | None:
    """The source mounted on ``target`` in a facts overview."""
    return next((m["source"] for m in overview["mounts"] if m["target"] == str(target)), None)


def statuses(result: dict[str, Any]) -> list[str]:
    """The status of each entry of a job's operations."""
    return [o["status"] for o in result["operations"]]


def journal(jid: str) -> dict[str, Any]:
    """This test's journal ``jid`` as ``bofh --json journal show`` prints it."""
    from pybofh_core.session import journal as session_journal

    return session_journal().load(jid).to_json()


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A set-up or inspection command."""
    return subprocess.run(argv, capture_output=True, text=True, check=check, env={**os.environ, "LC_ALL": "C"})


def blkid(dev: str, tag: str) -> str:
    """A tag blkid reads from ``dev`` ('' when none)."""
    return sh("blkid", "-c", "/dev/null", "-o", "value", "-s", tag, dev, check=False).stdout.strip()


# --- ansible-test sanity ----------------------------------------------------------------------------------------------


def _ansible_test_home() -> Path:
    """HOME for ansible-test: its sanity venvs and pip cache persist here between runs (a cache, like pip's).

    ansible-test bootstraps pip into each venv with a script it downloads from ci-files.testing.ansible.com, which
    this machine cannot reach (only PyPI): the stand-in written here runs this venv's pip (pinned in constraints.txt)
    to install the pip version ansible-test asks for, from PyPI, as the real script would.
    """
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pybofh-ansible-test"
    source = (Path(importlib.util.find_spec("ansible_test").origin).parent  # type: ignore[arg-type,union-attr]
              / "_internal" / "python_requirements.py").read_text()
    found = re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", source)
    assert found, "cannot find the pip version ansible-test bootstraps"
    import pip

    script = home / ".ansible" / "test" / "cache" / f"get_pip_{found.group(1).replace('.', '_')}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        '"""Stand-in for get-pip.py: install pip (and what it is asked for) with the pinned pip of pybofh\'s venv."""\n'
        "import sys\n"
        f"sys.path.insert(0, {str(Path(pip.__file__).parents[1])!r})\n"
        "from pip._internal.cli.main import main\n"
        'args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]\n'
        'sys.exit(main(["install", "--upgrade", "--force-reinstall", *args]))\n'
    )
    return home


@pytest.mark.slow
def test_ansible_test_sanity_passes_on_the_collection(tmp_path: Path) -> None:
    """Every sanity test ansible-test has (validate-modules, import, compile, pylint, pep8, yamllint, ansible-doc,
    runtime-metadata, shebang…), each in its own venv, on the collection copied to ansible_collections/pybofh/storage.
    The only ignore: validate-modules' GPLv3 header check (the collection is MIT, like pybofh)."""
    if importlib.util.find_spec("ansible_test") is None:
        pytest.skip(NO_ANSIBLE)
    content = tmp_path / "ansible_collections" / "pybofh" / "storage"
    shutil.copytree(COLLECTION, content, ignore=shutil.ignore_patterns("__pycache__", "output", "*.tar.gz"))
    ignores = (content / "tests" / "sanity").glob("ignore-*.txt")
    assert {line.split()[1] for f in ignores for line in f.read_text().splitlines() if line.strip()} == {
        "validate-modules:missing-gplv3-license"}
    env = {**os.environ, "HOME": str(_ansible_test_home()), "LC_ALL": "C.UTF-8"}
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    res = subprocess.run([str(Path(sys.executable).parent / "ansible-test"), "sanity", "--venv", "--python", version,
                          "--color", "no"], cwd=content, env=env, capture_output=True, text=True, timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    for test in ("validate-modules", "import", "compile", "pylint", "pep8", "yamllint", "ansible-doc"):
        assert f'Running sanity test "{test}"' in out, out[-3000:]


def test_ansible_core_is_pinned_to_a_release_whose_controller_runs_here() -> None:
    """requirements-ansible.txt is pinned by constraints.txt (like the other requirement files), and the pin is an
    ansible-core release that declares this Python (its controller and ansible-test need 3.11+ since 2.18)."""
    from importlib.metadata import PackageNotFoundError, metadata

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    lines = [ln.split("#", 1)[0].strip() for ln in (ROOT / "requirements-ansible.txt").read_text().splitlines()]
    reqs = [Requirement(ln) for ln in lines if ln]
    assert [r.name for r in reqs] == ["ansible-core"]
    assert reqs[0].specifier.contains(pins["ansible-core"]), (reqs[0], pins["ansible-core"])
    try:
        meta = metadata("ansible-core")
    except PackageNotFoundError:
        pytest.skip(NO_ANSIBLE)
    assert meta["Version"] == pins["ansible-core"]
    assert SpecifierSet(meta["Requires-Python"]).contains(f"{sys.version_info.major}.{sys.version_info.minor}")


# --- the engine without Ansible: the operation list and strict idempotency --------------------------------------------


def _engine() -> Any:
    """The module_utils engine, imported by path (it needs only pybofh)."""
    path = COLLECTION / "plugins" / "module_utils" / "pybofh_job.py"
    spec = importlib.util.spec_from_file_location("pybofh_ansible_job_engine", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_operation_list_is_checked_before_anything_runs(fake_runner: Any) -> None:
    """Aliases and seed names resolve; shape errors, unknown operations and bad arguments are refused (no command
    runs); secrets are masked in the report; strict idempotency refuses operations it cannot look for."""
    engine = _engine()
    items = engine.parse_operations([{"lvm.createLV": {"vg": "vg0", "name": "data", "size": "10G"}},
                                     {"blockdevice.mount": ["/dev/vg0/data", "/srv/data"]},
                                     {"crypt.open": {"device": "/dev/vg0/data", "name": "d", "passphrase": PW}}])
    assert [i.op for i in items] == ["lvm.create_lv", "blockdev.mount", "crypt.open"]
    assert items[1].bound["mountpoint"] == "/srv/data"
    assert engine.secret_values(items) == [PW]
    assert items[2].report()["args"]["passphrase"] == "***"
    for bad, words in [([], "non-empty list"), ([{"lvm.create_lv": {}, "x.y": {}}], "one 'domain.operation"),
                       ([{"create_lv": {}}], "domain.operation"), ([{"lvm.nope": {}}], "lvm.nope"),
                       ([{"lvm.create_lv": {"vg": "v", "name": "n", "size": 1, "colour": 1}}], "colour"),
                       ([{"lvm.create_lv": 3}], "mapping")]:
        with pytest.raises(engine.Refused, match=re.escape(words)):
            engine.parse_operations(bad)
    with pytest.raises(engine.Refused, match=r"strict_idempotency: .*blockdev\.set_label"):
        engine.run_job(engine.parse_operations([{"blockdev.set_label": ["/dev/loop0", "x"]}]), check_mode=False,
                       strict=True)
    assert fake_runner.calls == []


def test_the_idempotency_table_compares_identity_and_size(fake_runner: Any) -> None:
    """Recorded LVM reports (pybofh-lvm's recordings): an LV of the asked size is present (also once ``round``
    resolved), another size is a conflict, a relative size compares the name only, a VG on other PVs is a conflict;
    a job whose steps are all present runs nothing and leaves no journal."""
    from pybofh_lvm import facts as lvm

    engine = _engine()
    rec = ROOT / "plugins" / "pybofh-lvm" / "tests" / "recordings"
    fake_runner.expect(lvm.lvs_argv(), (rec / "lvs" / "data-mounted-2.03.16.txt").read_bytes())
    fake_runner.expect(lvm.vgs_argv(), (rec / "vgs" / "one-vg-empty-2.03.16.txt").read_bytes())  # extent: 4 MiB
    fake_runner.expect(lvm.pvs_argv(), (rec / "pvs" / "two-pvs-in-vg-2.03.16.txt").read_bytes())

    def present(op: str, **args: Any) -> str | None:
        (item,) = engine.parse_operations([{op: args}])
        return engine.present(item)  # type: ignore[no-any-return]

    assert "exists with 67108864 bytes" in present("lvm.create_lv", vg="pybofhrec", name="data", size="64M")
    assert present("lvm.create_lv", vg="pybofhrec", name="data", size="61M", round="up") is not None
    assert "only its name is compared" in present("lvm.create_lv", vg="pybofhrec", name="data", size="50%FREE")
    assert present("lvm.create_lv", vg="pybofhrec", name="other", size="64M") is None
    for size, rnd in (("32M", None), ("61M", "down")):
        with pytest.raises(engine.Conflict, match="exists with 67108864 bytes, not the"):
            present("lvm.create_lv", vg="pybofhrec", name="data", size=size, round=rnd)
    assert present("lvm.create_vg", name="pybofhrec", devices=["/dev/loop1", "/dev/loop0"]) is not None
    with pytest.raises(engine.Conflict, match="exists on /dev/loop0, /dev/loop1, not on /dev/loop0"):
        present("lvm.create_vg", name="pybofhrec", devices="/dev/loop0")
    assert present("lvm.create_pv", device="/dev/loop1") is not None
    assert present("lvm.create_pv", device="/dev/loop5") is None

    items = engine.parse_operations([{"lvm.create_lv": ["pybofhrec", "data", "64M"]}])
    result = engine.run_job(items, check_mode=False, strict=True)
    assert result["changed"] is False and result["journal_id"] is None and result["plan"] == []
    assert {c[0] for c in fake_runner.calls} == {"lvs", "vgs", "pvs"}  # only the read-only reports ran


# --- localhost and a loopback sshd host: PV, VG, ext4 and a mount on loop devices -------------------------------------


@pytest.fixture(scope="module")
def sshd_host() -> Iterator[Any]:
    """The ssh transport's throwaway sshd (plugins/pybofh-ssh/tests/sshd_testbed.py), one host ``h1``; stopped
    (its sessions killed, its files removed) even when the test fails."""
    path = ROOT / "plugins" / "pybofh-ssh" / "tests" / "sshd_testbed.py"
    spec = importlib.util.spec_from_file_location("pybofh_ansible_sshd_testbed", path)
    assert spec is not None and spec.loader is not None
    testbed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(testbed)
    reason = testbed.unavailable()
    if reason:
        pytest.skip(reason)
    bed = testbed.SshdTestbed(1, log_level="INFO")
    try:
        bed.start()
        yield bed
    finally:
        bed.stop()


@pytest.fixture
def loop_stack(loop_factory: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Five 64 MiB loop devices, three empty mountpoints and a fresh VG name; whatever the jobs left (mounts, the
    VG, PV labels) is removed before the loop devices are detached, also when the test failed."""
    names: dict[str, Any] = {"vg": f"pbans{secrets.token_hex(3)}"}
    names |= {dev: loop_factory(64 * MIB) for dev in "abcde"}
    for n in ("mnt", "mnt2", "mnt3"):
        (tmp_path / n).mkdir()
        names[n] = tmp_path / n
    try:
        yield names
    finally:
        for n in ("mnt3", "mnt2", "mnt"):
            sh("umount", "-l", str(names[n]), check=False)
        sh("vgremove", "-f", names["vg"], check=False)
        for dev in ("a", "c", "d"):
            sh("pvremove", "-ff", "-y", names[dev], check=False)


@pytest.mark.loopdev
@pytest.mark.parametrize("target", ["localhost", "sshd"])
def test_a_job_plans_runs_is_idempotent_and_rolls_back(
    target: str, collection: Path, loop_stack: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    """The same play against localhost (connection local) and over a real ssh connection to a loopback sshd:
    check mode plans (commands and undo commands, nothing changed), diff mode shows the plan, the run makes PV, VG,
    ext4 and mount (journalled, as planned), a second run is ``changed: false``, a failing job is rolled back and
    reports the rollback and its journal id, a conflict and strict idempotency are refused before anything runs."""
    s = loop_stack
    vg, a, b, c, d = s["vg"], s["a"], s["b"], s["c"], s["d"]
    hostvars: dict[str, Any] = {"ansible_python_interpreter": sys.executable}
    if target == "sshd":
        bed = request.getfixturevalue("sshd_host")
        host = "h1"
        hostvars |= {"ansible_connection": "ssh", "ansible_ssh_common_args": f"-F {bed.ssh_config}"}
    else:
        host = "localhost"
        hostvars |= {"ansible_connection": "local"}
    play = play_runner(collection, host, hostvars, module_env())

    main = [{"lvm.create_pv": {"device": a}}, {"lvm.create_vg": {"name": vg, "devices": [a]}},
            {"blockdev.create_filesystem": {"device": b, "fstype": "ext4", "label": "pbans"}},
            {"blockdev.mount": {"device": b, "mountpoint": str(s["mnt"])}}]
    e = s["e"]
    failing = [{"lvm.create_pv": {"device": c}}, {"blockdev.create_filesystem": {"device": e, "fstype": "ext4"}},
               {"blockdev.mount": {"device": b, "mountpoint": str(s["mnt2"])}},
               {"blockdev.mount": {"device": d, "mountpoint": str(s["mnt3"])}}]  # d holds no filesystem
    if target == "localhost":  # diff mode as an administrator sees it: the default callback prints the plan
        play([job("plan", main, allow_irreversible=True)], "--check", "--diff")
        shown = play.last.stdout  # type: ignore[attr-defined]
        for line in (f"$ pvcreate -- {a}", f"$ vgcreate -- {vg} {a}", f"$ mkfs.ext4 -q -L pbans -- {b}",
                     f"$ mount -- {b} {s['mnt']}", f"undo: lvm.remove_pv('{a}')", f"$ pvremove -- {a}",
                     f"undo: blockdev.unmount('{s['mnt']}')"):
            assert line in shown, shown
        assert blkid(b, "TYPE") == "" and blkid(a, "TYPE") == ""
    r = play([
        job("plan", main, check=True, diff=True, allow_irreversible=True),
        facts("after plan"),
        job("apply", main, allow_irreversible=True),
        job("again", main, allow_irreversible=True),
        job("plan again", main, check=True, diff=True, allow_irreversible=True),
        job("fail", failing, allow_irreversible=True, expect_failure=True),
        facts("after failure"),
        job("conflict", [{"blockdev.mount": {"device": d, "mountpoint": str(s["mnt"])}}], expect_failure=True),
        job("plan an LV", [{"lvm.create_pv": {"device": d}}, {"lvm.create_vg": {"name": f"{vg}x", "devices": [d]}},
                           {"lvm.create_lv": {"vg": f"{vg}x", "name": "data", "size": "8M"}},
                           {"blockdev.create_filesystem": {"device": f"/dev/{vg}x/data"}}], check=True),
        job("strict", [{"crypt.format": {"device": d, "passphrase": PW}},
                       {"blockdev.set_label": {"device": b, "label": "other"}}],
            strict_idempotency=True, allow_irreversible=True, expect_failure=True),
    ])
    assert PW not in play.last.stdout + play.last.stderr  # type: ignore[attr-defined]
    if target == "sshd":  # every task really went through the test sshd
        assert bed.log.read_text().count("Accepted publickey for root") >= 9  # one connection per task

    # check mode: the plan with commands and undo commands; nothing changed
    plan = r["plan"]
    assert plan["changed"] is True and plan["plan_complete"] is True and plan["journal_id"] is None, plan
    assert statuses(plan) == ["planned"] * 4
    assert [(p["op"], p["commands"]) for p in plan["plan"]] == [
        ("lvm.create_pv", [f"pvcreate -- {a}"]), ("lvm.create_vg", [f"vgcreate -- {vg} {a}"]),
        ("blockdev.create_filesystem", [f"mkfs.ext4 -q -L pbans -- {b}"]),
        ("blockdev.mount", [f"mount -- {b} {s['mnt']}"])]
    assert [(p["undo"], p["undo_commands"]) for p in plan["plan"][:2]] == [
        (f"lvm.remove_pv('{a}')", [f"pvremove -- {a}"]),
        # the VG's undo leaves the PV to the PV's own undo: the planned create_pv made it, as the run's does
        (f"lvm.remove_vg('{vg}', remove_pvs=[])", [f"vgremove -- {vg}"])]
    assert plan["plan"][2]["undo"] is None and plan["plan"][2]["irreversible"]
    assert plan["plan"][3]["undo"] == f"blockdev.unmount('{s['mnt']}')"
    assert f"$ mkfs.ext4 -q -L pbans -- {b}" in plan["diff"]["prepared"]
    assert "undo: blockdev.unmount" in plan["diff"]["prepared"]
    before = storage(r["after plan"])
    assert a not in pv_names(before) and mounted_at(before, s["mnt"]) is None

    # the run: one committed journal whose steps ran exactly the planned commands
    done = r["apply"]
    assert done["changed"] is True and statuses(done) == ["changed"] * 4 and done["journal_id"], done
    ran = journal(done["journal_id"])
    assert ran["status"] == "committed"
    assert [(st["op"], st["commands"]) for st in ran["steps"]] == [(p["op"], p["commands"]) for p in plan["plan"]]
    assert blkid(b, "LABEL") == "pbans"

    # idempotency: the second run (and its check mode) finds every effect present
    again = r["again"]
    assert again["changed"] is False and statuses(again) == ["present"] * 4 and again["journal_id"] is None, again
    assert f"VG {vg} exists on {a}" in again["operations"][1]["reason"]
    assert r["plan again"]["changed"] is False and r["plan again"]["plan"] == []
    assert "diff" not in r["plan again"]

    # failure: the mount of a device without a filesystem fails; the mount and the PV before it are undone, the mkfs
    # on a device the job did not make cannot be, and the task says so (changed: true, rolled_back: false)
    fail = r["fail"]
    assert fail["failed"] is True and fail["changed"] is True and fail["rolled_back"] is False, fail
    assert "blockdev.mount failed: command 'mount --" in fail["msg"] and fail["journal_id"] in fail["msg"]
    assert f"every step it finished was undone (journal {fail['journal_id']}) but 1 irreversible one(s): " \
           f"blockdev.create_filesystem on {e}" in fail["msg"], fail["msg"]
    assert statuses(fail) == ["undone", "not undone", "undone", "failed"]
    assert fail["rollback"]["status"] == "rolled-back"
    assert [(st["op"], st["state"], st["undo_commands"]) for st in fail["rollback"]["steps"]] == [
        ("blockdev.mount", "already", []),  # the failed mount's write-ahead undo: nothing was mounted
        ("blockdev.mount", "undone", [f"umount -- {s['mnt2']}"]),
        ("blockdev.create_filesystem", "not undone", []), ("lvm.create_pv", "undone", [f"pvremove -- {c}"])]
    assert journal(fail["journal_id"])["status"] == "rolled-back"
    assert blkid(e, "TYPE") == "ext4"
    after = storage(r["after failure"])
    assert c not in pv_names(after) and a in pv_names(after)
    assert mounted_at(after, s["mnt2"]) is None and mounted_at(after, s["mnt"]) == b

    # check mode plans on the system as the planned steps leave it: an LV in a VG the job only planned, and mkfs on
    # that LV, are planned too (the planning model), without failing
    whole = r["plan an LV"]
    assert whole["changed"] is True and whole["plan_complete"] is True and not whole["failed"], whole
    assert statuses(whole) == ["planned"] * 4
    assert [p["commands"] for p in whole["plan"]] == [
        [f"pvcreate -- {d}"], [f"vgcreate -- {vg}x {d}"], [f"lvcreate --yes -n data -L {8 * MIB}b -- {vg}x"],
        [f"mkfs.ext4 -q -- /dev/{vg}x/data"]]
    assert blkid(d, "TYPE") == ""  # not a PV: nothing was changed

    # a conflict (another device on the mountpoint) and strict idempotency are refused before anything runs
    conflict = r["conflict"]
    assert conflict["failed"] is True and conflict["journal_id"] is None
    assert f"{s['mnt']} has {b} mounted, not {d}" in conflict["msg"]
    assert conflict["rollback"]["status"] == "nothing-ran"
    strict = r["strict"]
    assert strict["failed"] is True and "strict_idempotency" in strict["msg"] and "blockdev.set_label" in strict["msg"]
    assert blkid(b, "LABEL") == "pbans" and blkid(d, "TYPE") == ""


# --- the VM test bed: PV, VG, LV, LUKS, ext4 and a mount, the play run by ansible inside the guest --------------------


def installed_collection(base: Path) -> Path:
    """The collection's folder placed in a private collections path (inside the guest: building it there with
    ansible-galaxy costs ~20 s under TCG; the build itself is tested on the host)."""
    if ansible_pythonpath() is None:
        pytest.skip("ansible-core is neither importable here nor in the project's .venv")
    base.mkdir()
    shutil.copytree(COLLECTION, base / "collections" / "ansible_collections" / "pybofh" / "storage",
                    ignore=shutil.ignore_patterns("__pycache__", "output", "*.tar.gz"))
    return base


@pytest.mark.needs_dm
def test_an_lvm_luks_job_in_the_vm(loop_factory: Any, tmp_path: Path) -> None:
    """Inside the guest (ansible-playbook run there from the project's .venv, connection local; the modules run on
    the guest's python3 with the project packages): the run builds PV → VG → LV → LUKS → open → ext4 → mount (the
    format and mkfs allowed because the job made their devices); a second run is ``changed: false``; a failing job
    (LV, LUKS, open, then a mount that fails) is rolled back: mapping closed, LV removed, the first job's stack
    untouched. Three tasks (each costs 13 to 30 s under TCG): check mode, diff and conflicts are asserted on the host,
    where an LV in a planned VG and mkfs on it are planned the same way."""
    base = installed_collection(tmp_path / "ansible")
    vg, mapping, scratch = (f"pbans{secrets.token_hex(3)}" for _ in range(3))
    loop = loop_factory(256 * MIB)
    mnt, mnt2 = tmp_path / "mnt", tmp_path / "mnt2"
    mnt.mkdir()
    mnt2.mkdir()
    lv, scratch_lv = f"/dev/{vg}/data", f"/dev/{vg}/scratch"
    main = [{"lvm.create_pv": {"device": loop}}, {"lvm.create_vg": {"name": vg, "devices": [loop]}},
            {"lvm.create_lv": {"vg": vg, "name": "data", "size": "32M"}},  # LUKS2's header takes 16 MiB
            {"crypt.format": {"device": lv, "passphrase": PW}},
            {"crypt.open": {"device": lv, "name": mapping, "passphrase": PW}},
            {"blockdev.create_filesystem": {"device": f"/dev/mapper/{mapping}", "fstype": "ext4"}},
            {"blockdev.mount": {"device": f"/dev/mapper/{mapping}", "mountpoint": str(mnt)}}]
    failing = [{"lvm.create_lv": {"vg": vg, "name": "scratch", "size": "24M"}},
               {"crypt.format": {"device": scratch_lv, "passphrase": PW}},
               {"crypt.open": {"device": scratch_lv, "name": scratch, "passphrase": PW}},
               {"blockdev.mount": {"device": f"/dev/mapper/{scratch}", "mountpoint": str(mnt2)}}]  # no filesystem
    play = play_runner(base, "localhost", {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                       module_env(**FAST_KDF))
    try:
        r = play([job("apply", main), job("again", main), job("fail", failing, expect_failure=True)])
        assert PW not in play.last.stdout + play.last.stderr  # type: ignore[attr-defined]

        done = r["apply"]
        assert done["changed"] is True and statuses(done) == ["changed"] * 7, done
        ran = journal(done["journal_id"])
        assert ran["status"] == "committed" and [st["op"] for st in ran["steps"]] == [
            "lvm.create_pv", "lvm.create_vg", "lvm.create_lv", "crypt.format", "crypt.open",
            "blockdev.create_filesystem", "blockdev.mount"]
        assert PW not in json.dumps(ran)

        again = r["again"]
        assert again["changed"] is False and statuses(again) == ["present"] * 7, again
        assert "exists with 33554432 bytes" in again["operations"][2]["reason"]

        fail = r["fail"]
        assert fail["failed"] is True and fail["rolled_back"] is True and fail["rollback"]["status"] == "rolled-back"
        assert fail["changed"] is False  # the LUKS format went with the LV the job made and removed
        assert "blockdev.mount failed" in fail["msg"], fail["msg"]
        assert f"every step it finished was undone (journal {fail['journal_id']})" in fail["msg"], fail["msg"]
        assert [(st["op"], st["state"]) for st in fail["rollback"]["steps"]] == [
            ("blockdev.mount", "already"), ("crypt.open", "undone"), ("crypt.format", "not undone"),
            ("lvm.create_lv", "undone")]
        assert statuses(fail) == ["undone", "undone", "undone", "failed"]
        assert journal(fail["journal_id"])["status"] == "rolled-back"
        assert sh("lvs", "--noheadings", "-o", "lv_name", vg).stdout.split() == ["data"]
        assert not os.path.lexists(f"/dev/mapper/{scratch}") and os.path.lexists(f"/dev/mapper/{mapping}")
        assert sh("findmnt", "-n", "-o", "SOURCE", str(mnt)).stdout.strip() == f"/dev/mapper/{mapping}"
        assert sh("findmnt", "-n", str(mnt2), check=False).returncode != 0
    finally:
        for target in (mnt2, mnt):
            sh("umount", "-l", str(target), check=False)
        for name in (scratch, mapping):
            sh("cryptsetup", "close", name, check=False)
        sh("vgremove", "-f", vg, check=False)
        sh("pvremove", "-ff", "-y", loop, check=False)
