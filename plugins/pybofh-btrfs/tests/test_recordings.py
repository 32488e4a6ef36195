"""The parsers on outputs recorded from btrfs-progs 6.2 on this project's test machine (``recordings/record.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybofh_btrfs import parsers as P
from pybofh_btrfs.types import BalanceState, ScrubState
from pybofh_core.errors import ParseError
from pybofh_core.testing import Recordings

MiB = 1024**2


def _paths(subs: list[Any]) -> list[tuple[int, str, int | None, bool | None]]:
    return [(s.id, s.path, s.top_level, s.readonly) for s in subs]


# case -> (parser, check). Only fields that do not change between two runs of record.py (uuids and dates do).
PARSED: dict[str, tuple[Callable[..., Any], Callable[[Any], object]]] = {
    "subvolume_list_empty": (P.parse_subvolume_list, lambda r: r == []),
    "subvolume_list_-puqR": (P.parse_subvolume_list, lambda r: _paths(r) == [
        (256, "data", 5, None), (257, "data/nested", 256, None), (258, "snap1", 5, None), (259, "clone", 5, None)]
        and r[2].parent_uuid == r[0].uuid and r[3].parent_uuid == r[0].uuid and r[0].parent_uuid is None
        and all(s.received_uuid is None and len(s.uuid or "") == 36 for s in r)
        and [s.parent_id for s in r] == [5, 256, 5, 5]),
    "subvolume_list_-a-puqR": (P.parse_subvolume_list, lambda r: [s.path for s in r] == [
        "data", "data/nested", "snap1", "clone"]),
    "subvolume_list_-r": (P.parse_subvolume_ids, lambda r: r == {258}),
    "subvolume_list_-s": (P.parse_subvolume_list, lambda r: [(s.id, s.path, s.cgen is not None, bool(s.otime))
                                                             for s in r] == [(258, "snap1", True, True),
                                                                             (259, "clone", True, True)]),
    "subvolume_list_-puqR_received": (P.parse_subvolume_list, lambda r: [s.path for s in r] == ["snap1", "snap2"]
                                      and all(s.received_uuid for s in r) and r[1].parent_uuid == r[0].uuid),
    "subvolume_show_snapshot": (P.parse_subvolume_show, lambda d: (d.path, d.name, d.id, d.readonly, d.snapshots)
                                == ("snap1", "snap1", 258, True, ()) and d.parent_uuid is not None),
    "subvolume_show_with-snapshots": (P.parse_subvolume_show, lambda d: (d.id, d.readonly, d.snapshots, d.cgen)
                                      == (256, False, ("snap1", "clone"), 7)),
    "subvolume_show_toplevel": (P.parse_subvolume_show, lambda d: (d.path, d.name, d.id, d.top_level)
                                == ("", "<FS_TREE>", 5, 0)),
    "subvolume_show_received": (P.parse_subvolume_show, lambda d: d.name == "snap2" and d.readonly
                                and d.received_uuid is not None and d.receive_transid == 10),
    "subvolume_get-default_fs-tree": (P.parse_get_default, lambda s: (s.id, s.path) == (5, "")),
    "subvolume_get-default_subvolume": (P.parse_get_default, lambda s: (s.id, s.path, s.top_level)
                                        == (256, "data", 5)),
    "inspect-internal_rootid": (P.parse_rootid, lambda n: n == 256),
    "filesystem_usage_-b": (P.parse_filesystem_usage, lambda u: u.exact and u.device_size == 256 * MiB
                            and u.device_allocated + u.device_unallocated == u.device_size
                            and u.device_slack == 0 and u.multiple_profiles is False
                            and [(p.type, p.profile) for p in u.profiles] == [
                                ("Data", "single"), ("Metadata", "DUP"), ("System", "DUP")]
                            and u.unallocated[0][0].startswith("/dev/loop")),
    "filesystem_usage_human": (P.parse_filesystem_usage, lambda u: not u.exact and u.device_size == 256 * MiB),
    "filesystem_df_format-json": (P.parse_filesystem_df, lambda d: d.exact and [s.type for s in d.spaces] == [
        "Data", "System", "Metadata", "GlobalReserve"] and d.get("Data")[0].total == 8 * MiB),
    "filesystem_df_-b": (P.parse_filesystem_df, lambda d: d.exact and d.get("Data")[0].total == 8 * MiB),
    "filesystem_df_human": (P.parse_filesystem_df, lambda d: not d.exact and d.get("Metadata")[0].total == 32 * MiB),
    "filesystem_show_--raw": (P.parse_filesystem_show, lambda s: len(s.filesystems) == 1
                              and s.filesystems[0].label == "pybofh-rec" and s.filesystems[0].exact
                              and s.filesystems[0].devices[0].size == 256 * MiB
                              and s.filesystems[0].devices[0].path.startswith("/dev/loop")),
    "filesystem_show_human": (P.parse_filesystem_show, lambda s: not s.filesystems[0].exact
                              and s.filesystems[0].devices[0].size == 256 * MiB),
    "device_usage_-b": (P.parse_device_usage, lambda r: len(r) == 1 and r[0].devid == 1 and r[0].size == 256 * MiB
                        and r[0].slack == 0 and sum(n for _, n in r[0].chunks) + r[0].unallocated == 256 * MiB),
    "device_stats": (P.parse_device_stats, lambda r: len(r) == 1 and r[0].total_errors == 0
                     and r[0].devid is None and len(r[0].counters) == 5),
    "device_stats_format-json": (P.parse_device_stats, lambda r: len(r) == 1 and r[0].devid == 1
                                 and r[0].get("corruption_errs") == 0),
    "scrub_status_--raw_no-stats": (P.parse_scrub_status, lambda s: s.state is ScrubState.NO_STATS
                                    and s.total_bytes is not None and s.total_bytes > 0 and s.layout == "new"),
    "scrub_status_--raw_finished": (P.parse_scrub_status, lambda s: s.state is ScrubState.FINISHED and s.done
                                    and s.duration_seconds == 0 and s.errors == ()),
    "scrub_status_-R_finished": (P.parse_scrub_status, lambda s: s.state is ScrubState.FINISHED
                                 and s.raw_counter("csum_errors") == 0 and len(s.raw) == 15),
    "scrub_status_finished": (P.parse_scrub_status, lambda s: s.state is ScrubState.FINISHED),
    "scrub_start_-B": (P.parse_scrub_status, lambda s: s.state is ScrubState.FINISHED and s.messages == ()),
    "balance_status_none": (P.parse_balance_status, lambda b: b.state is BalanceState.NONE),
    "qgroup_show_-pcre_--raw": (P.parse_qgroup_show, lambda q: [g.qgroupid for g in q][:5] == [
        "0/5", "0/256", "0/257", "0/258", "0/260"] and q[1].path == "data" and q[0].referenced == 16384
        and q[-1].path == "snaps/manual-@data" and all(g.parents == () and g.children == () for g in q)),
    "qgroup_show_format-json": (P.parse_qgroup_show, lambda q: [g.path for g in q][:3] == [None, "data", "data/nested"]
                                and q[1].max_referenced is None and q[-1].path == "snaps/manual-@data"),
    # record_checks.py: what identities and data checks read (one run: its uuids relate to each other)
    "subvolume_show_created": (P.parse_subvolume_show, lambda d: (d.path, d.id, d.readonly, d.parent_uuid)
                               == ("data", 256, False, None) and len(d.uuid or "") == 36),
    "subvolume_show_snapshot-created": (P.parse_subvolume_show, lambda d: (d.path, d.readonly) == ("snap", True)
                                        and d.parent_uuid == P.parse_subvolume_show(
                                            _checks("subvolume_show_created")).uuid),
    "subvolume_show_recreated": (P.parse_subvolume_show, lambda d: (d.path, d.id, d.readonly, d.parent_uuid)
                                 == ("snap", 258, False, None) and d.uuid != P.parse_subvolume_show(
                                     _checks("subvolume_show_snapshot-created")).uuid),
    "subvolume_show_received-full": (P.parse_subvolume_show, lambda d: (d.path, d.readonly) == ("ro", True)
                                     and d.received_uuid is not None),
    "subvolume_get-default_from-subvolume": (P.parse_get_default, lambda s: (s.id, s.path) == (5, "")),
    "subvolume_get-default_is-subvolume": (P.parse_get_default, lambda s: (s.id, s.path) == (256, "data")),
    "filesystem_show_--raw_mnt": (P.parse_filesystem_show, lambda s: s.filesystems[0].label == "pybofh-checks"),
    "filesystem_show_--raw_mnt2": (P.parse_filesystem_show, lambda s: s.filesystems[0].label == "pybofh-checks2"
                                   and s.filesystems[0].uuid != P.parse_filesystem_show(
                                       _checks("filesystem_show_--raw_mnt")).filesystems[0].uuid),
    "findmnt_target_subvolume": (P.parse_findmnt, lambda m: [(e.target.endswith("/mnt"), e.fstype) for e in m]
                                 == [(True, "btrfs")]),
    "findmnt_target_other-btrfs": (P.parse_findmnt, lambda m: [(e.target.endswith("/mnt2"), e.fstype) for e in m]
                                   == [(True, "btrfs")]),
    "findmnt_target_not-btrfs": (P.parse_findmnt, lambda m: [(e.target, e.fstype) for e in m] == [("/", "ext4")]),
    "findmnt_btrfs": (P.parse_findmnt, lambda m: [(e.fsroot, e.source and e.source.startswith("/dev/loop"))
                                                  for e in m] == [("/", True), ("/", True)]
                      and m[0].majmin != m[1].majmin),
    "findmnt_btrfs_subvolume-mounted": (P.parse_findmnt, lambda m: [e.fsroot for e in m] == ["/", "/", "/data"]
                                        and m[2].majmin == m[0].majmin and m[2].source.endswith("[/data]")),
    # record_more.py: mkfs.btrfs --mixed (Data+Metadata block groups) and a scrub cancelled and resumed
    "filesystem_df_mixed": (P.parse_filesystem_df, lambda d: d.mixed and not d.exact and [s.type for s in d.spaces] == [
        "System", "Data+Metadata", "GlobalReserve"] and d.get("Data") == d.get("Metadata") == d.get("data+metadata")
        and d.get("Data")[0].total == 40 * MiB),
    "filesystem_df_-b_mixed": (P.parse_filesystem_df, lambda d: d.mixed and d.exact
                               and d.get("Data")[0].kinds == ("Data", "Metadata")
                               and d.get("Data")[0].total == 40 * MiB),
    "filesystem_df_format-json_mixed": (P.parse_filesystem_df, lambda d: d.mixed and d.exact
                                        and d.get("Metadata")[0].type == "Data+Metadata"
                                        and d.get("Metadata")[0].total == 40 * MiB),
    "filesystem_usage_-b_mixed": (P.parse_filesystem_usage, lambda u: u.exact and u.device_size == 256 * MiB
                                  and [(p.type, p.profile, p.size) for p in u.profiles] == [
                                      ("Data+Metadata", "single", 40 * MiB), ("System", "single", 4 * MiB)]
                                  and u.device_allocated + u.device_unallocated == u.device_size),
    "filesystem_usage_mixed": (P.parse_filesystem_usage, lambda u: not u.exact and [p.type for p in u.profiles] == [
        "Data+Metadata", "System"]),
    "device_usage_-b_mixed": (P.parse_device_usage, lambda r: [k for k, _ in r[0].chunks] == [
        "Data+Metadata,single", "System,single"] and sum(n for _, n in r[0].chunks) + r[0].unallocated == 256 * MiB),
    "device_usage_mixed": (P.parse_device_usage, lambda r: [k for k, _ in r[0].chunks] == [
        "Data+Metadata,single", "System,single"] and r[0].size == 256 * MiB),
    "scrub_status_aborted": (P.parse_scrub_status, lambda s: s.state is ScrubState.ABORTED and not s.resumed
                             and s.rate_limit_bytes_per_second is None and not s.some_devices_rate_limited),
    "scrub_status_running_resumed": (P.parse_scrub_status, lambda s: s.state is ScrubState.RUNNING and s.resumed
                                     and not s.done and s.percent is not None and 0 < s.percent < 100
                                     and s.time_left_seconds is not None and bool(s.eta)),
    "scrub_status_-R_running_resumed": (P.parse_scrub_status, lambda s: s.state is ScrubState.RUNNING and s.resumed
                                        and len(s.raw) == 15 and s.raw_counter("data_bytes_scrubbed") > 0),
    "scrub_status_--raw_running_resumed": (P.parse_scrub_status, lambda s: s.resumed and s.total_bytes == 420741120
                                           and s.bytes_scrubbed is not None and s.bytes_scrubbed > 0),
    "scrub_status_aborted_resumed": (P.parse_scrub_status, lambda s: s.state is ScrubState.ABORTED and s.resumed
                                     and s.duration_seconds is not None and s.duration_seconds > 0),
    "scrub_resume_-B_finished": (P.parse_scrub_status, lambda s: s.state is ScrubState.FINISHED and not s.resumed),
    "scrub_status_finished_resumed": (P.parse_scrub_status, lambda s: s.state is ScrubState.FINISHED and s.resumed
                                      and s.errors == ()),
}


def _checks(case: str) -> bytes:
    """Another recording of the same record_checks.py run (for checks relating two of them)."""
    return RECORDINGS.get("btrfs", case, "6.2").stdout


@pytest.mark.parametrize("case", sorted(PARSED))
def test_recorded_output(rec: Any, case: str) -> None:
    """Each recorded read-only command (exit 0) parses to the expected typed result."""
    assert rec.rc(case) == 0
    parser, check = PARSED[case]
    assert check(parser(rec.out(case), source=case)) is True


def test_receive_names_come_from_stderr_or_stdout(rec: Any) -> None:
    """A full stream names its subvolume on stderr, an incremental one on stdout."""
    assert rec.out("receive_full") == b""
    assert P.parse_receive_name(rec.out("receive_full") + b"\n" + rec.err("receive_full")) == "snap1"
    assert P.parse_receive_name(rec.out("receive_incremental") + b"\n" + rec.err("receive_incremental")) == "snap2"
    with pytest.raises(ParseError):
        P.parse_receive_name(rec.out("subvolume_create"))


@pytest.mark.parametrize("case", ["subvolume_show_not-a-subvolume", "filesystem_usage_format-json_unsupported"])
def test_failed_commands_print_nothing_parsable(rec: Any, case: str) -> None:
    """Failed commands leave stdout empty, so their parsers must refuse rather than return an empty result."""
    assert rec.rc(case) != 0 and rec.out(case) == b""
    parser = P.parse_subvolume_show if "show" in case else P.parse_filesystem_usage
    with pytest.raises(ParseError):
        parser(rec.out(case), source=case)


def test_every_recording_is_used(rec: Any) -> None:
    """Each recorded case is checked here or replayed by the operation tests (no stale recording)."""
    replayed = {"subvolume_create", "subvolume_create_nested", "subvolume_snapshot", "subvolume_snapshot_readonly",
                "subvolume_delete", "subvolume_delete_not-empty", "subvolume_set-default", "send_full",
                "send_incremental", "receive_full", "receive_incremental", "balance_cancel_not-running",
                "scrub_cancel_not-running", "balance_start_--bg_--full-balance", "property_get_ro_true",
                "property_get_ro_false", "find_rotation-dir", "subvolume_show_not-a-subvolume",
                "filesystem_usage_format-json_unsupported",
                # record_checks.py: replayed by test_identity.py
                "find_empty-subvolume", "find_subvolume-with-file", "stat_stream", "stat_stream-recreated",
                "stat_missing", "head_stream", "head_not-a-stream"}
    assert set(rec.cases()) == set(PARSED) | replayed


@pytest.mark.parametrize("data", [b"", b"garbage\n", b"ID x gen 1 top level 5 path a\n",
                                  b"ID 256 gen 1 top level 5 bogus 3 path a\n", b"ID 256 gen 1 top level 5\n",
                                  b"ID 256 gen 1 gen 2 top level 5 path a\n"])
def test_subvolume_list_refuses_damaged_lines(data: bytes) -> None:
    """No half results: any unclaimed line raises ParseError (empty output is an empty list)."""
    if not data:
        assert P.parse_subvolume_list(data) == []
        return
    with pytest.raises(ParseError):
        P.parse_subvolume_list(data)


def test_subvolume_list_keeps_spaces_and_odd_bytes_in_paths(rec: Any) -> None:
    """``path`` is the rest of the line: spaces kept, non-UTF-8 bytes kept as surrogate escapes."""
    line = rec.out("subvolume_list_-puqR").splitlines()[0].replace(b"path data", b"path my dir/\xff x")
    sv = P.parse_subvolume_list(line)[0]
    assert sv.path == "my dir/\udcff x"


def test_json_duplicate_keys_are_refused(rec: Any) -> None:
    """A duplicate key in ``--format json`` output would hide data: refused."""
    text = rec.out("filesystem_df_format-json").decode().replace('"used": "0"', '"used": "0", "used": "1"', 1)
    with pytest.raises(ParseError, match="duplicate"):
        P.parse_filesystem_df(text)


def test_findmnt_flattens_children_and_refuses_damage() -> None:
    """``findmnt -J`` nests mounts under their parents when not asked for a list: every level is read."""
    nested = (b'{"filesystems": [{"target": "/", "fstype": "ext4", '
              b'"children": [{"target": "/srv", "fstype": "btrfs"}]}]}')
    assert [(m.target, m.fstype) for m in P.parse_findmnt(nested)] == [("/", "ext4"), ("/srv", "btrfs")]
    assert P.parse_findmnt(b"") == []  # nothing found (findmnt exits 1)
    for bad in (b"{}", b'{"filesystems": [{"fstype": "btrfs"}]}', b'{"filesystems": [{"target": "/", "fsroot": 1}]}',
                b"not json"):
        with pytest.raises(ParseError):
            P.parse_findmnt(bad)


RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")
FROM_SOURCE = {r.name: r for r in RECORDINGS.all("btrfs-from-source")}
GiB = 1024**3

# Outputs of btrfs-progs versions this machine cannot run, written from the source's format strings (README there).
SOURCE_CASES: dict[str, Callable[[Any], object]] = {
    "scrub_status_legacy-summary_finished-4.20": lambda s: (s.layout, s.state, s.resumed, s.duration_seconds,
                                                           s.error_count, s.errors) == (
        "legacy", ScrubState.FINISHED, False, 757, 0, ()) and abs(s.bytes_scrubbed - 187.45 * GiB) < GiB / 100,
    "scrub_status_legacy-summary_resumed_with-errors-4.20": lambda s: (
        s.state, s.resumed, s.started, s.error_count, s.errors, s.corrected, s.uncorrectable, s.unverified) == (
        ScrubState.FINISHED, True, "Sun Mar  3 09:14:52 2019", 3, (("read", 1), ("csum", 2)), 2, 1, 0),
    "scrub_status_legacy-summary_running-4.20": lambda s: s.state is ScrubState.RUNNING and s.duration_seconds == 341,
    "scrub_status_legacy-summary_no-stats-4.20": lambda s: s.state is ScrubState.NO_STATS and s.bytes_scrubbed == 0,
    "scrub_start_-B_legacy-summary_aborted-4.20": lambda s: s.state is ScrubState.ABORTED and s.error_count == 0,
    "scrub_status_resumed_rate-limit-6.6.3": lambda s: s.resumed and s.state is ScrubState.RUNNING
    and s.rate_limit_bytes_per_second == 120 * MiB and s.rate_bytes_per_second is not None,
}


@pytest.mark.parametrize("case", sorted(SOURCE_CASES))
def test_outputs_written_from_the_source(case: str) -> None:
    """Legacy scrub summaries (progs 3.12-5.0) and the 6.6.3 rate limit parse to typed results."""
    data = FROM_SOURCE[case].stdout
    assert SOURCE_CASES[case](P.parse_scrub_status(data, source=case)) is True


def test_every_source_sample_is_checked() -> None:
    """No sample in btrfs-from-source/ is left unchecked."""
    assert set(FROM_SOURCE) == set(SOURCE_CASES)


@pytest.mark.parametrize("rate", ["Rate:             1.00MiB/s (some device limits set)",
                                  "Rate:             1048576/s (limit 2097152/s)"])
def test_scrub_rate_limits(rate: str) -> None:
    """Both limit remarks of btrfs-progs 6.6.3+ are read; a rate that is not ``N/s`` is refused."""
    text = FROM_SOURCE["scrub_status_resumed_rate-limit-6.6.3"].text
    status = P.parse_scrub_status(text.replace("Rate:             106.27MiB/s (limit 120.00MiB/s)", rate))
    assert status.rate_bytes_per_second == 1048576
    assert status.some_devices_rate_limited == ("some" in rate)
    assert status.rate_limit_bytes_per_second == (None if "some" in rate else 2097152)
    with pytest.raises(ParseError):
        P.parse_scrub_status(text.replace("/s (limit", "/h (limit"))
