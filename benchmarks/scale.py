"""How parser cost grows with the number of objects: synthetic outputs built from real recorded structure.

Each generator takes one real output (a recording of this project's own, or a ``../shared/corpus`` sample where the
project has no recording, e.g. DRBD 9 JSON) and repeats its objects with new names, ids and uuids until the output
holds ``n`` objects (devices, mounts, LVs, subvolumes, resources, minors, domains), keeping the tool's own layout.
Every parser is timed against a baseline on the same bytes: ``json.loads`` for JSON outputs and
``bytes.splitlines`` for text (public parsers pause the cyclic GC while they run, so JSON parsers at 20,000 objects
are also compared with ``json.loads`` run the same way); growth is the parser's time at 20,000 objects over its time
at 2,000, reported beside the baseline's own growth (building large object graphs is not free of cache and
allocator effects even for ``json.loads``) and the growth of the parser's own work (its time beyond the
baseline's). Ratios only; nothing here asserts a time.
"""

from __future__ import annotations

import copy
import gc
import json
import re
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(ROOT.parent / "shared" / "corpus")
REC = {
    name: ROOT / "plugins" / f"pybofh-{name}" / "tests" / "recordings"
    for name in ("blockdev", "lvm", "btrfs", "drbd", "xen")
}
SIZES = (1_000, 2_000, 5_000, 20_000)


def _uuid(i: int, salt: str = "") -> str:
    """A stable, unique UUID-shaped string for object ``i``."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, f"{salt}{i}"))


def _lvm_uuid(i: int, salt: str = "") -> str:
    """An LVM-style 38-character id (``xxxxxx-xxxx-…``) for object ``i``."""
    raw = uuidlib.uuid5(uuidlib.NAMESPACE_OID, f"{salt}{i}").hex + uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{i}").hex
    parts, pos = [], 0
    for width in (6, 4, 4, 4, 4, 4, 6):
        parts.append(raw[pos:pos + width])
        pos += width
    return "-".join(parts)


# --- block devices ------------------------------------------------------------------------------------------------


def _rename_lsblk(dev: dict[str, Any], copy_no: int, counter: list[int]) -> None:
    """Give one lsblk device (and its children) names and ids no other copy has."""
    counter[0] += 1
    name = f"{dev['name']}c{copy_no}"
    dev["name"] = dev["kname"] = name
    dev["path"] = f"/dev/{name}"
    dev["maj:min"] = f"{7 + copy_no // 1000}:{counter[0] % 1_000_000}"
    if dev.get("pkname"):
        dev["pkname"] = f"{dev['pkname']}c{copy_no}"
    for key in ("uuid", "partuuid", "ptuuid"):
        if dev.get(key):
            dev[key] = _uuid(counter[0], key)
    for mp_key in ("mountpoint",):
        if dev.get(mp_key):
            dev[mp_key] = f"{dev[mp_key]}-{copy_no}"
    if isinstance(dev.get("mountpoints"), list):
        dev["mountpoints"] = [f"{m}-{copy_no}" if m else m for m in dev["mountpoints"]]
    for child in dev.get("children", []):
        _rename_lsblk(child, copy_no, counter)


def _count_tree(rows: list[dict[str, Any]], key: str = "children") -> int:
    return sum(1 + _count_tree(r.get(key, []), key) for r in rows)


def gen_lsblk_json(n: int) -> bytes:
    """``lsblk -J -b -O``: the recorded loop devices (one partitioned, with two partitions) repeated to ``n``."""
    doc = json.loads((REC["blockdev"] / "lsblk" / "json-all-columns-loops-2.38.1.txt").read_text())
    template = doc["blockdevices"]
    out: list[dict[str, Any]] = []
    counter = [0]
    copy_no = 0
    total = 0
    while total < n:
        for root in template:
            size = _count_tree([root])
            if total + size > n:
                continue
            dev = copy.deepcopy(root)
            _rename_lsblk(dev, copy_no, counter)
            out.append(dev)
            total += size
            if total == n:
                break
        copy_no += 1
    return (json.dumps({"blockdevices": out}, indent=3) + "\n").encode()


_PAIR = re.compile(r'(\w+)="([^"]*)"')


def gen_lsblk_pairs(n: int) -> bytes:
    """``lsblk -P -o NAME,PATH,PKNAME,…``: the recorded pairs lines (with a partitioned loop) repeated to ``n``."""
    lines = (REC["blockdev"] / "lsblk" / "pairs-pkname-loops-2.38.1.txt").read_text().splitlines()
    out: list[str] = []
    copy_no = 0
    while len(out) < n:
        for line in lines:
            pairs = dict(_PAIR.findall(line))
            pairs["NAME"] = f"{pairs['NAME']}c{copy_no}"
            pairs["PATH"] = f"/dev/{pairs['NAME']}"
            if pairs["PKNAME"]:
                pairs["PKNAME"] = f"{pairs['PKNAME']}c{copy_no}"
            if pairs["MOUNTPOINTS"]:
                pairs["MOUNTPOINTS"] = f"{pairs['MOUNTPOINTS']}-{copy_no}"
            out.append(" ".join(f'{k}="{v}"' for k, v in pairs.items()))
            if len(out) == n:
                break
        copy_no += 1
    return ("\n".join(out) + "\n").encode()


def gen_blkid_export(n: int) -> bytes:
    """``blkid -c /dev/null -o export DEV…``: the recorded blocks (ext4, GPT, partitions, swap, btrfs, xfs) to ``n``."""
    blocks = (REC["blockdev"] / "blkid" / "export-nocache-loops-2.38.1.txt").read_text().strip().split("\n\n")
    out: list[str] = []
    copy_no = 0
    while len(out) < n:
        for block in blocks:
            lines = []
            for line in block.splitlines():
                key, _, value = line.partition("=")
                if key == "DEVNAME":
                    value = f"{value}c{copy_no}"
                elif key in ("UUID", "PTUUID", "PARTUUID", "UUID_SUB"):
                    value = _uuid(len(out), key)
                lines.append(f"{key}={value}")
            out.append("\n".join(lines))
            if len(out) == n:
                break
        copy_no += 1
    return ("\n\n".join(out) + "\n").encode()


def gen_findmnt_json(n: int) -> bytes:
    """``findmnt -J``: the recorded tree (``/`` with nested children) with its subtrees repeated to ``n`` mounts."""
    doc = json.loads((REC["blockdev"] / "findmnt" / "json-all-2.38.1.txt").read_text())
    root = doc["filesystems"][0]
    subtrees = root.get("children", [])
    children: list[dict[str, Any]] = []
    total, copy_no = 1, 0

    def retarget(node: dict[str, Any], suffix: str) -> None:
        node["target"] = f"{node['target']}{suffix}"
        for child in node.get("children", []):
            retarget(child, suffix)

    while total < n:
        for sub in subtrees:
            size = _count_tree([sub])
            if total + size > n:
                continue
            node = copy.deepcopy(sub)
            retarget(node, f"-{copy_no}")
            children.append(node)
            total += size
            if total == n:
                break
        if total < n and all(_count_tree([s]) + total > n for s in subtrees):
            children.append({"target": f"/x{copy_no}", "source": "tmpfs", "fstype": "tmpfs", "options": "rw",
                             "fsroot": "/"})
            total += 1
        copy_no += 1
    root = dict(root, children=children)
    return (json.dumps({"filesystems": [root]}, indent=3) + "\n").encode()


# --- LVM ------------------------------------------------------------------------------------------------------------


def _lvm_json(sections: list[dict[str, list[dict[str, str]]]]) -> bytes:
    """Render report sections in LVM2's own JSON layout (one row per line, ``"key":"value"`` pairs)."""
    parts = ["  {\n      \"report\": [\n"]
    for s_i, section in enumerate(sections):
        parts.append("          {\n")
        keys = list(section)
        for k_i, key in enumerate(keys):
            parts.append(f'              "{key}": [\n')
            rows = section[key]
            parts.append(",\n".join(
                "                  {" + ", ".join(f'"{k}":{json.dumps(v)}' for k, v in row.items()) + "}"
                for row in rows
            ))
            parts.append("\n              ]\n")
            if k_i != len(keys) - 1:
                parts.append("              ,\n")
        parts.append("          }" + ("," if s_i != len(sections) - 1 else "") + "\n")
    parts.append("      ]\n  }\n")
    return "".join(parts).encode()


def _lvm_rows(path: Path, key: str) -> list[dict[str, str]]:
    text = path.read_text()
    doc = json.loads(text[text.index("{"):])
    return [row for section in doc["report"] for row in section.get(key, [])]


def gen_lvs(n: int) -> bytes:
    """``lvs -a --reportformat json``: the recorded thin pool, snapshots and hidden LVs repeated to ``n`` LVs."""
    rows = _lvm_rows(REC["lvm"] / "lvs" / "thin-and-snapshots-active-2.03.16.txt", "lv")
    out = []
    for i in range(n):
        row = dict(rows[i % len(rows)])
        copy_no = i // len(rows)
        name = row["lv_name"]
        bare = name.strip("[]")
        new = f"{bare}-{copy_no}"
        row["lv_name"] = f"[{new}]" if name.startswith("[") else new
        row["lv_uuid"] = _lvm_uuid(i, "lv")
        if row.get("lv_path"):
            row["lv_path"] = f"/dev/{row['vg_name']}/{new}"
        for ref in ("pool_lv", "origin"):
            if row.get(ref):
                row[ref] = f"{row[ref]}-{copy_no}"
        out.append(row)
    return _lvm_json([{"lv": out}])


def gen_vgs(n: int) -> bytes:
    """``vgs --reportformat json``: the recorded VG repeated to ``n`` VGs."""
    (template,) = _lvm_rows(REC["lvm"] / "vgs" / "two-pvs-two-lvs-2.03.16.txt", "vg")
    out = [dict(template, vg_name=f"vg{i}", vg_uuid=_lvm_uuid(i, "vg")) for i in range(n)]
    return _lvm_json([{"vg": out}])


def gen_pvs(n: int) -> bytes:
    """``pvs --reportformat json``: the recorded PVs repeated to ``n`` PVs."""
    rows = _lvm_rows(REC["lvm"] / "pvs" / "two-pvs-in-vg-2.03.16.txt", "pv")
    out = [dict(rows[i % len(rows)], pv_name=f"/dev/mapper/mpath{i}", pv_uuid=_lvm_uuid(i, "pv")) for i in range(n)]
    return _lvm_json([{"pv": out}])


def gen_fullreport(n: int) -> bytes:
    """``lvm fullreport --reportformat json``: the recorded VG element (VG, 2 PVs, LVs, segments) repeated until
    the report holds ``n`` LVs (one element per VG, as LVM prints it)."""
    text = (REC["lvm"] / "lvm" / "fullreport-thin-and-snapshots-2.03.16.txt").read_text()
    doc = json.loads(text[text.index("{"):])
    element = next(s for s in doc["report"] if s.get("vg"))
    sections = []
    lvs_done = 0
    copy_no = 0
    while lvs_done < n:
        el = copy.deepcopy(element)
        vg = f"vg{copy_no}"
        for key, rows in el.items():
            for row in rows:
                if "vg_name" in row:
                    row["vg_name"] = vg
                if "vg_uuid" in row:
                    row["vg_uuid"] = _lvm_uuid(copy_no, "vg")
                if key == "pv":
                    row["pv_name"] = f"/dev/mapper/mpath{copy_no}-{row['pv_name'].rsplit('/', 1)[-1]}"
                    row["pv_uuid"] = _lvm_uuid(copy_no * 16 + rows.index(row), "pv")
                if key == "lv" and "lv_uuid" in row:
                    row["lv_uuid"] = _lvm_uuid(copy_no * 64 + rows.index(row), "lv")
        el["lv"] = el["lv"][: n - lvs_done]
        lvs_done += len(el["lv"])
        sections.append(el)
        copy_no += 1
    return _lvm_json(sections)


# --- btrfs, DRBD, Xen -------------------------------------------------------------------------------------------------


def gen_subvolume_list(n: int) -> bytes:
    """``btrfs subvolume list -puqR``: the recorded lines (subvolumes and snapshots) repeated to ``n`` (snapper-like
    ``.snapshots/N/snapshot`` paths, ids counting up)."""
    lines = (REC["btrfs"] / "btrfs" / "subvolume_list_-puqR-6.2.txt").read_text().splitlines()
    out = []
    for i in range(n):
        line = lines[i % len(lines)]
        line = re.sub(r"^ID \d+", f"ID {256 + i}", line)
        line = re.sub(r"uuid [0-9a-f-]{36} path .*$", f"uuid {_uuid(i, 'sv')} path .snapshots/{i}/snapshot", line)
        out.append(line)
    return ("\n".join(out) + "\n").encode()


def gen_drbd_status_json(n: int) -> bytes:
    """``drbdsetup status --json`` (DRBD 9): the corpus' 4-resource SLE 15 SP1 sample repeated to ``n`` resources
    (the project has no DRBD 9 recording: its test bed runs DRBD 8.4)."""
    doc = json.loads((CORPUS / "drbd" / "drbdsetup_status_json_drbd9_sle15sp1_4-resources_ha-cluster-exporter.json")
                     .read_text())
    out = []
    for i in range(n):
        res = copy.deepcopy(doc[i % len(doc)])
        res["name"] = f"r{i}"
        for dev in res["devices"]:
            dev["minor"] = i
        out.append(res)
    return (json.dumps(out, indent=2) + "\n").encode()


def gen_proc_drbd(n: int) -> bytes:
    """``/proc/drbd`` (8.4): the recorded header, then the recorded minors (resyncing, connected) to ``n`` minors."""
    sync = (REC["drbd"] / "proc_drbd" / "syncsource_primary-8.4.11.txt").read_text().splitlines()
    conn = (REC["drbd"] / "proc_drbd" / "connected_secondary-8.4.11.txt").read_text().splitlines()
    header = sync[:2]
    blocks = [sync[2:], conn[2:]]
    out = list(header)
    for i in range(n):
        block = blocks[i % 2]
        out.append(re.sub(r"^\s*\d+:", f"{i:2d}:", block[0]))
        out.extend(block[1:])
    return ("\n".join(out) + "\n").encode()


def gen_xl_list(n: int) -> bytes:
    """``xl list``: the recorded header (with its TABs) and rows, domUs repeated to ``n`` domains."""
    lines = (REC["xen"] / "xl-nested" / "list-tiny-4.17.7.txt").read_text().splitlines()
    header, dom0, domu = lines[0], lines[1], lines[2]
    out = [header, dom0]
    for i in range(1, n):
        name = f"vm{i}"
        out.append(f"{name:<40}{i:5d}" + domu[45:])
    return ("\n".join(out) + "\n").encode()


def gen_xl_list_long(n: int) -> bytes:
    """``xl list -l`` (JSON, 4.17): the recorded domU entry repeated to ``n`` domains."""
    doc = json.loads((REC["xen"] / "xl-nested" / "list-long-tiny-4.17.7.txt").read_text())
    (entry,) = doc
    out = []
    for i in range(n):
        item = copy.deepcopy(entry)
        item["domid"] = i + 1
        item["config"]["c_info"]["name"] = f"vm{i}"
        item["config"]["c_info"]["uuid"] = _uuid(i, "dom")
        out.append(item)
    return (json.dumps(out, indent=4) + "\n").encode()


# --- the benchmark -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One listing parser, its generator, whether its output is JSON, and how to count what it returned."""

    name: str
    generate: Callable[[int], bytes]
    parse: Callable[[bytes], Any]
    json: bool
    count: Callable[[Any], int] = len


def cases() -> Iterator[Case]:
    """Every listing parser with its generator (skipping those whose sample is missing, e.g. without the corpus)."""
    from pybofh_blockdev import parsers as bd
    from pybofh_btrfs import parsers as bt
    from pybofh_drbd import parsers as dr
    from pybofh_lvm import parsers as lv
    from pybofh_xen import parsers as xl

    yield Case("lsblk -J -b -O", gen_lsblk_json, bd.parse_lsblk, True)
    yield Case("lsblk -P (PKNAME)", gen_lsblk_pairs, bd.parse_lsblk, False)
    yield Case("blkid -o export", gen_blkid_export, bd.parse_blkid, False)
    yield Case("findmnt -J", gen_findmnt_json, bd.parse_findmnt, True)
    yield Case("lvs (JSON)", gen_lvs, lv.parse_lvs, True)
    yield Case("vgs (JSON)", gen_vgs, lv.parse_vgs, True)
    yield Case("pvs (JSON)", gen_pvs, lv.parse_pvs, True)
    yield Case("lvm fullreport (JSON)", gen_fullreport, lv.parse_fullreport, True, lambda r: len(r.lvs))
    yield Case("btrfs subvolume list", gen_subvolume_list, bt.parse_subvolume_list, False)
    if (CORPUS / "drbd").is_dir():
        yield Case("drbdsetup status --json", gen_drbd_status_json, dr.parse_status_json, True)
    yield Case("/proc/drbd", gen_proc_drbd, dr.parse_proc_drbd, False, lambda r: len(r.devices))
    yield Case("xl list", gen_xl_list, xl.parse_xl_list, False)
    yield Case("xl list -l (JSON)", gen_xl_list_long, xl.parse_xl_list_long, True)


def _cpu(fn: Callable[[], Any]) -> float:
    gc.collect()
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def best_of(*fns: Callable[[], Any], budget_s: float = 2.0, min_runs: int = 5, max_runs: int = 25) -> list[float]:
    """Min CPU time of each of ``fns``, run in turn (interleaved, so a parser and its baseline see the same load)
    at least ``min_runs`` times and more while under ``budget_s``; GC collected before each run.

    CPU time of this process (``time.process_time``: user + system, GC and page faults included), so that other
    work on a shared machine, which only delays this process, does not count.
    """
    times: list[list[float]] = [[] for _ in fns]
    start = time.perf_counter()
    while len(times[0]) < min_runs or (len(times[0]) < max_runs and time.perf_counter() - start < budget_s):
        for fn, got in zip(fns, times, strict=True):
            got.append(_cpu(fn))
    return [min(t) for t in times]


def _gc_paused(fn: Callable[[Any], Any], arg: Any) -> Any:
    """``fn(arg)`` with the cyclic garbage collector paused, as the public parsers run."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return fn(arg)
    finally:
        if collecting:
            gc.enable()


def bench_parsers(sizes: tuple[int, ...] = SIZES, only: str | None = None) -> dict[str, Any]:
    """Per parser and size: parser seconds, baseline seconds, ratio; plus growth from 2,000 to 20,000 objects."""
    out: dict[str, Any] = {}
    for case in cases():
        if only and only not in case.name:
            continue
        row: dict[str, Any] = {"baseline": "json.loads" if case.json else "splitlines"}
        for n in sizes:
            data = case.generate(n)
            got = case.count(case.parse(data))
            if got != n:
                row[f"error_{n}"] = f"parsed {got} objects, generated {n}"
            fns: list[Callable[[], Any]] = [
                lambda d=data, parse=case.parse: parse(d),
                (lambda d=data: json.loads(d)) if case.json else (lambda d=data: d.splitlines()),
            ]
            paused = case.json and n == 20_000  # the parsers pause the cyclic GC; so does this second baseline
            if paused:
                fns.append(lambda d=data: _gc_paused(json.loads, d))
            parse_t, base_t, *rest = best_of(*fns)
            row[str(n)] = {"bytes": len(data), "parse_s": parse_t, "baseline_s": base_t, "ratio": parse_t / base_t}
            if rest:
                row[str(n)].update(baseline_gc_paused_s=rest[0], ratio_vs_gc_paused=parse_t / rest[0])
        if "2000" in row and "20000" in row:
            row["growth_2k_to_20k"] = row["20000"]["parse_s"] / row["2000"]["parse_s"]
            row["baseline_growth_2k_to_20k"] = row["20000"]["baseline_s"] / row["2000"]["baseline_s"]
            # the parser's own work (its time beyond the baseline's on the same bytes): linear is 10 here too
            own_2k = row["2000"]["parse_s"] - row["2000"]["baseline_s"]
            own_20k = row["20000"]["parse_s"] - row["20000"]["baseline_s"]
            row["own_growth_2k_to_20k"] = own_20k / own_2k if own_2k > 0 else None
        if "20000" in row and "100000" in row:  # --far: a superlinear term shows best beyond the cache effects
            row["growth_20k_to_100k"] = row["100000"]["parse_s"] / row["20000"]["parse_s"]
            row["baseline_growth_20k_to_100k"] = row["100000"]["baseline_s"] / row["20000"]["baseline_s"]
        out[case.name] = row
    return out


def summary(results: dict[str, Any]) -> str:
    """A Markdown table of the results (for the README)."""
    lines = ["| Parser | Baseline | ratio at 1,000 | 5,000 | 20,000 (vs baseline with GC paused) "
             "| growth 2k→20k (baseline's) | own work's growth |", "|---|---|---|---|---|---|---|"]
    for name, row in results.items():
        if not isinstance(row, dict) or "baseline" not in row:
            continue
        cells = [f"{row[str(n)]['ratio']:.1f}\u00d7" if str(n) in row else "-" for n in (1000, 5000, 20000)]
        if "ratio_vs_gc_paused" in row.get("20000", {}):
            cells[-1] += f" ({row['20000']['ratio_vs_gc_paused']:.1f}\u00d7)"
        growth, base = row.get("growth_2k_to_20k"), row.get("baseline_growth_2k_to_20k")
        shown = f"{growth:.1f} ({base:.1f})" if growth and base else "-"
        own = f"{row['own_growth_2k_to_20k']:.1f}" if row.get("own_growth_2k_to_20k") else "-"
        lines.append(f"| {name} | `{row['baseline']}` | {' | '.join(cells)} | {shown} | {own} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    far = "--far" in args  # also 100,000 objects: growth 20k→100k (5 times the objects) beside the baseline's
    args = [a for a in args if a != "--far"]
    res = bench_parsers(sizes=(*SIZES, 100_000) if far else SIZES, only=args[0] if args else None)
    print(json.dumps(res, indent=1))
    print(summary(res))
