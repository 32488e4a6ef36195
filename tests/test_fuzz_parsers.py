"""Fuzzed parsers: every public ``parse_*`` of every plugin gets mutated real outputs and random bytes.

The only outcomes allowed are a result or :class:`~pybofh_core.errors.ParseError` (the plugins' typed parse error);
anything else (``AttributeError``, ``KeyError``, ``IndexError``, ``RecursionError``…) is a bug in the parser.
Inputs are the corpus samples (``../shared/corpus``, when present) and the plugins' own recordings of the tool
each parser reads, mutated byte-, line- and JSON-wise, plus plain random bytes. A meta-test fails when a new public
parser is not listed in :data:`TARGETS`.

The default suite runs a bounded, deterministic number of examples per parser (``PYBOFH_FUZZ_EXAMPLES``, default
20); ``nox -s fuzz`` runs many more with fresh randomness.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import corpus_dir
from pybofh_core.errors import ParseError

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins"
EXAMPLES = int(os.environ.get("PYBOFH_FUZZ_EXAMPLES", "20"))
DERANDOMIZE = "PYBOFH_FUZZ_EXAMPLES" not in os.environ  # the default suite is reproducible; `nox -s fuzz` explores


@dataclass(frozen=True)
class Target:
    """One parser: how to call it with a fuzzed input, which real outputs to mutate, what the input is."""

    call: Callable[[Any], Any]
    samples: tuple[str, ...]  # globs: "C:dir/pattern" in the corpus, "R:path/pattern" under plugins/
    kind: str = "output"  # output (bytes or str) | text (str) | words (list[str]) | object (JSON value or text)
    also: tuple[type[BaseException], ...] = ()  # further exceptions the parser documents (none but parse_bytes)


def _fn(module: str, name: str) -> Callable[..., Any]:
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _output(module: str, name: str, *samples: str, **kw: Any) -> tuple[str, Target]:
    fn = _fn(module, name)
    return f"{module}.{name}", Target(lambda data: fn(data, source="fuzz", **kw), samples)


BD = "pybofh_blockdev.parsers"
BT = "pybofh_btrfs.parsers"
CR = "pybofh_crypt.parsers"
DR = "pybofh_drbd.parsers"
DC = "pybofh_drbd.drbdconf"  # the configuration language (re-exported by DR)
LV = "pybofh_lvm.parsers"
XL = "pybofh_xen.parsers"
XC = "pybofh_xen.xlcfg"

_LSBLK = ("C:blockdev/lsblk*", "R:pybofh-blockdev/tests/recordings/lsblk/*.txt")
_BLKID = ("C:blockdev/blkid*", "R:pybofh-blockdev/tests/recordings/blkid/*.txt")
_FINDMNT = ("C:blockdev/findmnt*", "R:pybofh-blockdev/tests/recordings/findmnt/*.txt")
_BTRFS_REC = "R:pybofh-btrfs/tests/recordings/btrfs"
_XEN_REC = "R:pybofh-xen/tests/recordings/xl-nested"
_DRBD_REC = "R:pybofh-drbd/tests/recordings"
_XLCFG = ("C:xen/xlcfg_*", "C:xen/xmcfg_*")


def _btrfs(name: str, *prefixes: str) -> tuple[str, Target]:
    globs = [g for p in prefixes for g in (f"C:btrfs/{p}*", f"{_BTRFS_REC}/{p}*.txt", f"{_BTRFS_REC}-from-source/{p}*")]
    return _output(BT, name, *globs)


def _lvm(name: str, report: str) -> tuple[str, Target]:
    return _output(LV, name, f"C:lvm/{report}*", f"R:pybofh-lvm/tests/recordings/{report}/*[0-9].txt",
                   "C:lvm/lvm_fullreport*", "R:pybofh-lvm/tests/recordings/lvm/*[0-9].txt")


def _special() -> dict[str, Target]:
    """Parsers that take something other than one command's output."""
    parse_bytes = _fn(BT, "parse_bytes")
    parse_address = _fn(DC, "parse_address")
    parse_lines = _fn(DR, "parse_lines")
    parse_sh_words = _fn(DR, "parse_sh_words")
    parse_libxl = _fn(XL, "parse_libxl_domain_config")
    parse_disk = _fn(XC, "parse_disk_spec")
    parse_vif = _fn(XC, "parse_vif_spec")
    parse_domu = _fn(XC, "parse_domu_config")
    return {
        # documented contract: raises ValueError (its callers turn that into ParseError naming the line)
        f"{BT}.parse_bytes": Target(parse_bytes, ("C:btrfs/*", f"{_BTRFS_REC}/*.txt"), "text", (ValueError,)),
        f"{DC}.parse_address": Target(lambda w: parse_address(w, source="fuzz"), ("C:drbd/*.res", "C:drbd/*show*"),
                                      "words"),
        f"{DR}.parse_lines": Target(parse_lines, ("C:drbd/*",)),
        f"{DR}.parse_sh_words": Target(parse_sh_words, ("C:drbd/*",)),
        f"{XL}.parse_libxl_domain_config": Target(lambda o: parse_libxl(o, source="fuzz"),
                                                  ("C:xen/libxl-domain-config*", f"{_XEN_REC}/list-long-*[0-9].txt"),
                                                  "object"),
        f"{XC}.parse_disk_spec": Target(lambda s: parse_disk(s, source="fuzz"), _XLCFG, "text"),
        f"{XC}.parse_vif_spec": Target(lambda s: parse_vif(s, source="fuzz"), _XLCFG, "text"),
        f"{XC}.parse_domu_config": Target(lambda d: parse_domu(d, path="fuzz.cfg"), _XLCFG),
    }


TARGETS: dict[str, Target] = dict([
    _output(BD, "parse_lsblk_json", *_LSBLK),
    _output(BD, "parse_lsblk_pairs", *_LSBLK),
    _output(BD, "parse_lsblk", *_LSBLK),
    _output(BD, "parse_blkid_export", *_BLKID),
    _output(BD, "parse_blkid_udev", *_BLKID),
    _output(BD, "parse_blkid_full", *_BLKID),
    _output(BD, "parse_blkid_json", *_BLKID),
    _output(BD, "parse_blkid", *_BLKID),
    _output(BD, "parse_findmnt", *_FINDMNT),
    _output(BD, "parse_losetup_json", "R:pybofh-blockdev/tests/recordings/losetup/*.txt"),
    _output(BD, "parse_swapon", "R:pybofh-blockdev/tests/recordings/swapon/*.txt"),
    _output(BD, "parse_dumpe2fs", "R:pybofh-blockdev/tests/recordings/dumpe2fs/*.txt"),
    _output(BD, "parse_resize2fs_minimum", "R:pybofh-blockdev/tests/recordings/resize2fs/*.txt"),
    _output(BD, "parse_xfs_info", "R:pybofh-blockdev/tests/recordings/xfs_*/*.txt"),
    _output(BD, "parse_btrfs_devices", "R:pybofh-blockdev/tests/recordings/btrfs/*.txt", "C:btrfs/filesystem_show*"),
    _output(BD, "parse_btrfs_min_dev_size", "R:pybofh-blockdev/tests/recordings/btrfs/*.txt"),
    _output(BD, "parse_btrfs_dev_total_bytes", "R:pybofh-blockdev/tests/recordings/btrfs/*.txt"),
    _output(BD, "parse_xfs_db_size", "R:pybofh-blockdev/tests/recordings/xfs_*/*.txt"),
    _output(BD, "parse_swap_header", "R:pybofh-blockdev/tests/recordings/dd/swap-header*.txt"),
    _output("pybofh_blockdev.bofh_status", "parse_findmnt_usage", *_FINDMNT),
    _output("pybofh_crypt.bofh_status", "parse_dmsetup_info", "R:pybofh-crypt/tests/recordings/dmsetup/*.txt"),
    _btrfs("parse_subvolume_list", "subvolume_list"),
    _btrfs("parse_subvolume_ids", "subvolume_list"),
    _btrfs("parse_get_default", "subvolume_get-default"),
    _btrfs("parse_rootid", "inspect-internal_rootid"),
    _btrfs("parse_subvolume_show", "subvolume_show"),
    _btrfs("parse_filesystem_show", "filesystem_show"),
    _btrfs("parse_filesystem_df", "filesystem_df"),
    _btrfs("parse_filesystem_usage", "filesystem_usage"),
    _btrfs("parse_device_usage", "device_usage"),
    _btrfs("parse_device_stats", "device_stats"),
    _btrfs("parse_qgroup_show", "qgroup_show"),
    _btrfs("parse_scrub_status", "scrub_status", "scrub_start", "scrub_resume"),
    _btrfs("parse_balance_status", "balance_status"),
    _btrfs("parse_receive_name", "receive"),
    _btrfs("parse_findmnt", "findmnt"),
    _output(CR, "parse_luks_dump", "C:crypt/luksDump_luks*",
            "R:pybofh-crypt/tests/recordings/cryptsetup/luksDump-*.txt"),
    _output(CR, "parse_luks2_json", "C:crypt/luksDump_dump-json*",
            "R:pybofh-crypt/tests/recordings/cryptsetup/luksDump-json*.txt"),
    _output(CR, "parse_crypt_status", "C:crypt/cryptsetup_status*",
            "R:pybofh-crypt/tests/recordings/cryptsetup/status-*[0-9].txt"),
    _output(DR, "parse_proc_drbd", "C:drbd/proc_drbd*", f"{_DRBD_REC}/proc_drbd/*.txt"),
    _output(DR, "parse_status_json", "C:drbd/drbdsetup_status_json*"),
    _output(DR, "parse_status_text", "C:drbd/drbdadm_status*", f"{_DRBD_REC}/drbdadm/status*.txt"),
    _output(DR, "parse_events2", "C:drbd/drbdsetup_events2*"),
    _output(DC, "parse_config_tree", "C:drbd/*.res", "C:drbd/drbdadm_dump*", "C:drbd/drbdsetup_show_[0-9g]*"),
    _output(DC, "parse_config", "C:drbd/*.res", "C:drbd/drbdadm_dump*", "C:drbd/drbdsetup_show_[0-9g]*",
            f"{_DRBD_REC}/configs/*"),
    _output(DR, "parse_show_json", "C:drbd/drbdsetup_show_json*"),
    _lvm("parse_pvs", "pvs"),
    _lvm("parse_vgs", "vgs"),
    _lvm("parse_lvs", "lvs"),
    _output(LV, "parse_fullreport", "C:lvm/lvm_fullreport*", "R:pybofh-lvm/tests/recordings/lvm/*[0-9].txt"),
    _output(XL, "parse_xl_list", "C:xen/xl_list_xen*", f"{_XEN_REC}/list-dom0*.txt", f"{_XEN_REC}/list-tiny*.txt"),
    _output(XL, "parse_xl_uptime", "C:xen/xl_uptime*", f"{_XEN_REC}/uptime*.txt"),
    _output(XL, "parse_xl_info", "C:xen/xl_info*", f"{_XEN_REC}/info*.txt"),
    _output(XL, "parse_xl_list_long", "C:xen/xl_list_long*", f"{_XEN_REC}/list-long-*[0-9].txt"),
    _output(XC, "parse_xl_config", *_XLCFG),
    *_special().items(),
])


def discovered_parsers() -> set[str]:
    """Every public ``parse_*`` function defined in any module of any plugin package under plugins/."""
    found = set()
    for pkg_dir in sorted(PLUGINS.glob("*/pybofh_*")):
        if not (pkg_dir / "__init__.py").is_file():
            continue
        pkg = importlib.import_module(pkg_dir.name)
        for info in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}."):
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if name.startswith("parse_") and inspect.isfunction(obj) and obj.__module__ == module.__name__:
                    found.add(f"{module.__name__}.{name}")
    return found


def test_every_public_parser_is_fuzzed() -> None:
    """A new public parser must be added to TARGETS (with the real outputs to mutate)."""
    assert discovered_parsers() == set(TARGETS)


# --- inputs --------------------------------------------------------------------------------------------------------

_SKIP = re.compile(r"\.(?:stderr\.txt|rc|meta\.json|expect\.json)$|README|MANIFEST|session\.log")


@functools.cache
def samples(name: str) -> tuple[bytes, ...]:
    """The real outputs one target's inputs are made from (corpus samples only when the corpus is present)."""
    corpus = corpus_dir()
    out: list[bytes] = []
    for pattern in TARGETS[name].samples:
        base, glob = (corpus, pattern[2:]) if pattern.startswith("C:") else (PLUGINS, pattern[2:])
        if base is None:
            continue
        for path in sorted(base.glob(glob)):
            if path.is_file() and not _SKIP.search(path.name) and path.stat().st_size < 64 * 1024:
                out.append(path.read_bytes())
    return tuple(dict.fromkeys(out))


@functools.cache
def fragments(name: str) -> tuple[str, ...]:
    """Short strings cut from the samples: quoted values, words and ``disk=``/``vif=`` entries."""
    out: set[str] = set()
    for data in samples(name):
        text = data.decode("utf-8", "replace")
        out.update(m.group(1) for m in re.finditer(r"""['"]([^'"\n]{1,120})['"]""", text))
        out.update(text.split()[:400])
    return tuple(sorted(out))


TOKENS = [b"{", b"}", b"[", b"]", b'"', b"'", b":", b",", b";", b"=", b"\t", b"\n", b"\r\n", b" ", b"\x00", b"\xff",
          b"\xe9", b"\xc3", b"M-", b"^", b"\\", b"\\x", b"\\xe9", b"(", b")", b"-", b"--", b"null", b"true", b"0",
          b"-1", b"1.5", b"99999999999999999999999", b"1e999", b"NaN", b"Infinity", b"%", b"/", b"<FS_TREE>/",
          b"Data+Metadata", b"Command successful.", b"ID ", b"path ", b"devid ", b"UUID: ", b"  ",
          "\u2514\u2500".encode(), "\u00b2".encode(), "\u0661".encode(), b"9" * 5000]
NUMBERS = [b"0", b"-1", b"1", b"4294967296", b"99999999999999999999999", b"1.5", b"-0", b"1e999", b"", b"x",
           b"9" * 5000, "\u00b2".encode(), "\u0661\u0662".encode(), "\uff11".encode()]  # Unicode digits

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _json_paths(doc: Any, path: tuple[Any, ...] = (), out: list[tuple[Any, ...]] | None = None) -> list[Any]:
    out = [] if out is None else out
    if len(out) > 500:
        return out
    out.append(path)
    if isinstance(doc, dict):
        for k, v in doc.items():
            _json_paths(v, (*path, k), out)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            _json_paths(v, (*path, i), out)
    return out


def _json_mutate(draw: st.DrawFn, doc: Any) -> Any:
    """Replace, delete, wrap or retype one node of a JSON document."""
    paths = _json_paths(doc)
    path = draw(st.sampled_from(paths))
    action = draw(st.sampled_from(["replace", "delete", "wrap", "stringify"]))
    if not path:
        return draw(json_values) if action == "replace" else [doc]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "wrap":
        parent[last] = [parent[last]]
    elif action == "stringify":
        parent[last] = json.dumps(parent[last])
    else:
        parent[last] = draw(json_values)
    return doc


def _lines(data: bytearray) -> list[bytes]:
    return bytes(data).splitlines(keepends=True)


@st.composite
def mutated(draw: st.DrawFn, pool: tuple[bytes, ...]) -> bytes:
    """A real output with 1-6 mutations, or (one time in ten, or without samples) random bytes."""
    if not pool or draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=400))
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["byte", "insert", "delete", "truncate", "number", "dup-line", "drop-line",
                                   "swap-lines", "splice", "json", "json"]))
        pos = draw(st.integers(0, len(data))) if data else 0
        if op == "byte" and data:
            data[min(pos, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=6))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[pos:]
        elif op == "number":
            m = re.compile(rb"-?\d+(?:\.\d+)?").search(bytes(data), pos)
            if m:
                data[m.start():m.end()] = draw(st.sampled_from(NUMBERS))
        elif op in ("dup-line", "drop-line", "swap-lines", "splice"):
            lines = _lines(data)
            if not lines:
                continue
            i, j = (draw(st.integers(0, len(lines) - 1)) for _ in range(2))
            if op == "dup-line":
                lines.insert(i, lines[i])
            elif op == "drop-line":
                del lines[i]
            elif op == "swap-lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                other = bytes(draw(st.sampled_from(pool))).splitlines(keepends=True) or [b"\n"]
                lines.insert(i, other[draw(st.integers(0, len(other) - 1))])
            data = bytearray(b"".join(lines))
        elif op == "json":
            text = bytes(data)
            start = min((i for i in (text.find(b"{"), text.find(b"[")) if i >= 0), default=-1)
            try:
                doc = json.loads(text[start:]) if start >= 0 else None
            except ValueError:
                continue
            if doc is None:
                continue
            doc = _json_mutate(draw, doc)
            data = bytearray(text[:start] + json.dumps(doc, indent=draw(st.sampled_from([None, 1, 2]))).encode())
    return bytes(data)


def inputs(name: str) -> st.SearchStrategy[Any]:
    """The strategy for one target's input."""
    target, pool = TARGETS[name], samples(name)
    if target.kind == "words":
        frag = fragments(name)
        word = st.sampled_from(frag) | st.text(max_size=20) if frag else st.text(max_size=20)
        return st.lists(word, max_size=4)
    if target.kind == "text":
        frag = tuple(f.encode("utf-8", "surrogateescape") for f in fragments(name))
        return mutated(frag).map(lambda b: b.decode("utf-8", "replace")) | st.text(max_size=60)
    if target.kind == "object":
        docs = []
        for data in pool:
            try:
                doc = json.loads(data)
            except ValueError:
                continue
            docs.extend(item.get("config", item) if isinstance(item, dict) else item
                        for item in (doc if isinstance(doc, list) else [doc]))
        blobs = tuple(json.dumps(d).encode() for d in docs)
        return (mutated(blobs).map(_loads_or_text) | json_values | mutated(pool)).map(lambda x: x)
    out = mutated(pool)
    return st.one_of(out, out.map(lambda b: b.decode("utf-8", "replace")))


def _loads_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_returns_a_result_or_parse_error(name: str) -> None:
    """Mutated real outputs and random bytes: a result or ParseError, never another exception."""
    target = TARGETS[name]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(value=inputs(name))
    def run(value: Any) -> None:
        try:
            target.call(value)
        except ParseError:
            pass
        except target.also:
            pass

    run()


def test_targets_have_real_samples() -> None:
    """Each parser is fed real outputs (when the corpus is present), not only random bytes."""
    if corpus_dir() is None:
        pytest.skip("the shared corpus is not present: corpus samples are not checked")
    empty = [name for name, target in TARGETS.items() if target.kind != "words" and not samples(name)]
    assert empty == []


DIGITS = re.compile(rb"[0-9]+")


@pytest.mark.parametrize("name", sorted(n for n, t in TARGETS.items() if t.kind == "output"))
def test_numbers_python_cannot_convert(name: str) -> None:
    """Each of the first digit runs of each sample, replaced in turn by 5000 digits (int() refuses more than 4300)
    or by a superscript two (``str.isdigit`` accepts it, ``int`` does not): a result or ParseError (deterministic)."""
    for data in samples(name)[:3]:
        for m in list(DIGITS.finditer(data))[:4]:
            for number in (b"9" * 5000, "\u00b2".encode(), "\u0661\u00b2".encode()):
                try:
                    TARGETS[name].call(data[:m.start()] + number + data[m.end():])
                except ParseError:
                    pass


@pytest.mark.parametrize("collecting", [True, False])
def test_parsers_leave_the_garbage_collector_as_they_found_it(collecting: bool) -> None:
    """Public parsers pause the cyclic GC while they build; after a result or a ParseError it is as before."""
    import gc

    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        for name, target in TARGETS.items():
            for data in (*samples(name)[:1], b"\x00garbage\n"):
                try:
                    target.call(data if target.kind == "output" else data.decode("utf-8", "replace"))
                except (ParseError, *target.also):
                    pass
                assert gc.isenabled() is collecting, name
    finally:
        (gc.enable if was else gc.disable)()
