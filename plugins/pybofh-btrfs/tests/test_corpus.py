"""Every btrfs sample of the shared corpus through its pure parser: key fields checked, or a typed ParseError.

The expectations below were written by reading each sample; the corpus is read in place (never copied). A new
sample without an entry here fails the test, so coverage cannot silently shrink.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybofh_btrfs import parsers as P
from pybofh_btrfs.types import BalanceState, ScrubState
from pybofh_core.errors import ParseError

GiB, MiB, KiB, TiB = 1024**3, 1024**2, 1024, 1024**4


def _list(n: int, first: tuple[Any, ...], last: tuple[Any, ...], **extra: Any) -> Callable[[Any], None]:
    """Check a subvolume list: count, first and last (id, path, top_level, parent_id, uuid, parent_uuid)."""

    def check(subs: list[Any]) -> None:
        assert len(subs) == n
        for sv, (ident, path, top, parent, uuid, puuid) in ((subs[0], first), (subs[-1], last)):
            assert (sv.id, sv.path, sv.top_level, sv.parent_id, sv.uuid, sv.parent_uuid) == (
                ident, path, top, parent, uuid, puuid)
        for key, value in extra.items():
            assert value(subs), key

    return check


def _scrub(state: ScrubState, layout: str, uuid: str, **fields: Any) -> Callable[[Any], None]:
    def check(st: Any) -> None:
        assert (st.state, st.layout, st.uuid) == (state, layout, uuid)
        for key, value in fields.items():
            got = st.raw_counter(key[4:]) if key.startswith("raw_") else getattr(st, key)
            assert got == value, (key, got, value)

    return check


def _balance(path: str, state: BalanceState, *progress: int | None, cancel: bool = False,
             pause: bool = False) -> Callable[[Any], None]:
    def check(st: Any) -> None:
        assert (st.path, st.state, st.cancel_requested, st.pause_requested) == (path, state, cancel, pause)
        assert (st.chunks_balanced, st.chunks_total, st.chunks_considered, st.percent_left) == (
            progress or (None, None, None, None))

    return check


def _show(fs: list[tuple[str | None, str, int, int, list[tuple[int, str | None, bool]], bool]],
          warnings: int = 0, version: str | None = None, exact: bool = True) -> Callable[[Any], None]:
    """Check fi show: per filesystem (label, uuid, devices, bytes used, [(devid, path, missing)], some_missing)."""

    def check(res: Any) -> None:
        assert len(res.filesystems) == len(fs)
        for got, (label, uuid, total, used, devs, missing) in zip(res.filesystems, fs, strict=True):
            assert (got.label, got.uuid, got.total_devices, got.bytes_used, got.some_missing) == (
                label, uuid, total, used, missing)
            assert [(d.devid, d.path, d.missing) for d in got.devices] == devs
            assert got.exact is exact
        assert len(res.warnings) == warnings
        assert res.progs_version == version

    return check


def _stats(devices: dict[str, dict[str, int]]) -> Callable[[Any], None]:
    def check(res: Any) -> None:
        assert [d.device for d in res] == list(devices)
        for d in res:
            for key, value in devices[d.device].items():
                assert d.get(key) == value

    return check


def _df(rows: list[tuple[str, str, int, int]], exact: bool) -> Callable[[Any], None]:
    def check(res: Any) -> None:
        assert [(s.type, s.profile, s.total, s.used) for s in res.spaces] == rows
        assert res.exact is exact

    return check


def _qgroups(n: int, rows: dict[str, tuple[int, int, int | None, int | None, tuple[str, ...], str | None]]):  # type: ignore[no-untyped-def]
    def check(res: Any) -> None:
        assert len(res) == n
        by_id = {q.qgroupid: q for q in res}
        for qid, (rfer, excl, mrfer, mexcl, parents, path) in rows.items():
            q = by_id[qid]
            assert (q.referenced, q.exclusive, q.max_referenced, q.max_exclusive, q.parents, q.path) == (
                rfer, excl, mrfer, mexcl, parents, path)

    return check


def _details(path: str, name: str, ident: int, uuid: str | None, readonly: bool | None, **fields: Any):  # type: ignore[no-untyped-def]
    def check(d: Any) -> None:
        assert (d.path, d.name, d.id, d.uuid, d.readonly) == (path, name, ident, uuid, readonly)
        for key, value in fields.items():
            assert getattr(d, key) == value, key

    return check


def _default(ident: int, path: str, top: int | None) -> Callable[[Any], None]:
    def check(sv: Any) -> None:
        assert (sv.id, sv.path, sv.top_level) == (ident, path, top)

    return check


def _any_ro_none(subs: list[Any]) -> bool:
    return all(s.readonly is None for s in subs)


U_SYS = "2c680ff8-9687-4356-87db-e48d23749d80"
# file name -> (parser, check of the result) or (parser, ParseError-message fragment)
EXPECT: dict[str, tuple[Callable[..., Any], Any]] = {
    # --- balance status
    "balance_status_no-balance-found_rockstor.txt": (
        P.parse_balance_status, _balance("/mnt2/test-pool", BalanceState.NONE)),
    "balance_status_paused_rockstor.txt": (
        P.parse_balance_status, _balance("/mnt2/test-pool", BalanceState.PAUSED, 3, 114, 4, 97)),
    "balance_status_running_cancel-requested_linux-btrfs-ml.txt": (
        P.parse_balance_status, _balance("/data/", BalanceState.RUNNING, 0, 16, 9, 100, cancel=True)),
    "balance_status_running_linux-btrfs-ml.txt": (
        P.parse_balance_status, _balance("/mnt/i", BalanceState.RUNNING, 6650, 7480, 6651, 11)),
    "balance_status_running_pause-requested_rockstor.txt": (
        P.parse_balance_status, _balance("/mnt2/test-pool", BalanceState.RUNNING, 3, 114, 4, 97, pause=True)),
    "balance_status_running_rockstor.txt": (
        P.parse_balance_status, _balance("/mnt2/test-pool", BalanceState.RUNNING, 7, 114, 8, 94)),
    # --- device stats / usage
    "device_stats_-c_corruption-errs_rc64_rockstor.txt": (P.parse_device_stats, _stats(
        {"/dev/vdb": {"write_io_errs": 0, "read_io_errs": 0, "flush_io_errs": 0, "corruption_errs": 5,
                      "generation_errs": 0}})),
    "device_stats_-c_three-luks-members_rockstor.txt": (P.parse_device_stats, _stats({
        "/dev/mapper/luks-3efb3830-fee1-4a9e-a5c6-ea456bfc269e": {"corruption_errs": 0, "write_io_errs": 0},
        "/dev/mapper/luks-41cd2e3c-3bd6-49fc-9f42-20e368a66efc": {"generation_errs": 0},
        "/dev/mapper/luks-a47f4950-3296-4504-b9a4-2dc75681a6ad": {"read_io_errs": 0, "flush_io_errs": 0}})),
    "device_usage_-b_negative-unallocated_during-device-remove_rockstor.txt": (P.parse_device_usage, lambda r: (
        [(d.path, d.devid, d.size, d.slack, d.unallocated) for d in r] == [
            ("/dev/vda", 4, 5368709120, 5368709120, -1073741824), ("/dev/vdc", 3, 5368709120, 0, 2885681152),
            ("/dev/vde", 5, 5368709120, 0, 2147483648), ("/dev/vdf", 6, 5368709120, 0, 2952790016)]
        and dict(r[1].chunks) == {"Data,single": 2147483648, "Metadata,RAID1": 268435456, "System,DUP": 67108864})),
    "device_usage_-b_two-devices_rockstor.txt": (P.parse_device_usage, lambda r: (
        [(d.path, d.devid, d.unallocated, dict(d.chunks)) for d in r] == [
            ("/dev/vda", 4, 3758096384, {"Data,single": 1073741824, "Metadata,DUP": 536870912}),
            ("/dev/vdc", 3, 5301600256, {"System,DUP": 67108864})])),
    # --- filesystem df
    "filesystem_df_format-json_btrfs-progs-6.15_libstorage-ng-luks4.json": (P.parse_filesystem_df, _df([
        ("Data", "single", 6450839552, 3808894976), ("System", "DUP", 8388608, 16384),
        ("Metadata", "DUP", 268435456, 87195648), ("GlobalReserve", "single", 11059200, 0)], exact=True)),
    "filesystem_df_format-json_btrfs-progs-6.1_strings_libstorage-ng-systeminfo.json": (P.parse_filesystem_df, _df([
        ("Data", "RAID10", 4294967296, 4197752832), ("Data", "RAID5", 6442450944, 97214464),
        ("System", "RAID10", 33554432, 0), ("System", "RAID5", 50331648, 16384),
        ("Metadata", "RAID10", 1073741824, 4521984), ("Metadata", "RAID5", 2214592512, 262144),
        ("GlobalReserve", "single", 4702208, 0)], exact=True)),
    "filesystem_df_libstorage-ng-btrfs1.txt": (P.parse_filesystem_df, _df([
        ("Data", "single", round(3.01 * GiB), round(2.89 * GiB)), ("System", "DUP", 8 * MiB, 16 * KiB),
        ("Metadata", "DUP", 256 * MiB, round(68.16 * MiB)), ("GlobalReserve", "single", round(6.86 * MiB), 0)],
        exact=False)),
    # --- filesystem show
    "filesystem_show_--raw_MISSING-uppercase_kernel-6.1.9_rockstor.txt": (P.parse_filesystem_show, _show([
        ("ROOT", "9ccfb511-b222-4528-944c-4837b9eb089a", 1, 3275034624, [(1, "/dev/sdb4", False)], False),
        ("test-pool-new-kernel", "21345a94-f2bf-48d7-a2be-37734ffd2a48", 4, 4508352512,
         [(1, None, True), (2, "/dev/sdc", False), (3, "/dev/sdd", False), (4, "/dev/sde", False)], False)])),
    "filesystem_show_--raw_label_mounted-ro-degraded_untabbed-some-devices-missing_rockstor.txt": (
        P.parse_filesystem_show, _show([
            ("test-pool-default-kernel", "21345a94-f2bf-48d7-a2be-37734ffd2a48", 4, 4508352512,
             [(2, "/dev/sdc", False), (3, "/dev/sdd", False), (4, "/dev/sde", False)], True)])),
    "filesystem_show_--raw_label_path-then-MISSING_kernel-6.2_rockstor.txt": (P.parse_filesystem_show, _show([
        ("test-pool-new-kernel", U_SYS, 3, 2829742080,
         [(5, "/dev/sda", False), (7, "/dev/vdb", False), (8, "/dev/vda", True)], False)])),
    "filesystem_show_--raw_label_unmounted-two-missing_rockstor.txt": (P.parse_filesystem_show, _show([
        ("test-pool-new-kernel", U_SYS, 3, 2829742080, [(5, "/dev/sda", False)], True)], warnings=2)),
    "filesystem_show_--raw_three-fs_one-degraded-mounted_rockstor.txt": (P.parse_filesystem_show, _show([
        ("rockstor_install-test", "b3d201a8-b497-4365-a90d-a50c50b8e808", 1, 2304409600, [(1, "/dev/vdb3", False)],
         False),
        ("rock-pool-2", "52053a67-1a53-4cb8-bf17-69abca623bef", 2, 409600, [(1, "/dev/vde", False),
                                                                            (2, "/dev/vdd", False)], False),
        ("rock-pool", "924d9d64-4943-4eac-a52e-1918e963a34f", 3, 475136, [(1, "/dev/vda", False),
                                                                          (2, "/dev/vdc", False)], True)])),
    "filesystem_show_--raw_warnings-before-label_two-degraded_rockstor.txt": (P.parse_filesystem_show, _show([
        ("rockstor_install-test", "b3d201a8-b497-4365-a90d-a50c50b8e808", 1, 2311786496, [(1, "/dev/vdb3", False)],
         False),
        ("rock-pool", "924d9d64-4943-4eac-a52e-1918e963a34f", 3, 475136, [(2, "/dev/vdc", False),
                                                                          (3, "/dev/vdd", False)], True),
        ("rock-pool-2", "52053a67-1a53-4cb8-bf17-69abca623bef", 2, 409600, [(1, "/dev/vdf", False)], True)],
        warnings=3)),
    "filesystem_show_btrfs-v3.12_libstorage-ng-systeminfo.txt": (P.parse_filesystem_show, _show([
        (None, "ea108250-d02c-41dd-b4d8-d4a707a5c649", 1, 28 * KiB, [(1, "/dev/mapper/system-test", False)], False),
        (None, "d82229f2-f9e4-40fd-b15f-84e2d42e6d0d", 1, 420 * KiB, [(1, "/dev/mapper/system-testsuite", False)],
         False),
        (None, "653764e0-7ea2-4dbe-9fa1-866f3f7783c9", 1, 316 * KiB, [(1, "/dev/mapper/system-btrfs", False)],
         False)], version="3.12+20131125", exact=False)),
    "filesystem_show_missing-devices_quoted-label_libstorage-ng-systeminfo.txt": (P.parse_filesystem_show, _show([
        ("hello world", "b0749dbe-7de5-4719-9cb6-043dd5c70d00", 4, 256 * KiB,
         [(1, "/dev/sdb1", False), (2, "/dev/sdc1", False), (3, "/dev/sdd1", False)], True)], exact=False)),
    "filesystem_show_two-fs_libstorage-ng-btrfs1.txt": (P.parse_filesystem_show, _show([
        (None, "3df53f69-df60-4481-888f-99072f9c516f", 1, round(2.96 * GiB), [(1, "/dev/sda2", False)], False),
        (None, "68c946ab-e975-44b9-a7df-dfa52b987e83", 1, 192 * KiB, [(1, "/dev/sda3", False)], False)],
        exact=False)),
    # --- filesystem usage
    "filesystem_usage_multiple-profiles_btrfs-progs-5.10.1_linux-btrfs-ml.txt": (P.parse_filesystem_usage, lambda u: (
        u.device_size == round(25.34 * TiB) and u.device_allocated == 13 * TiB and u.device_missing == 0
        and u.used == round(12.94 * TiB) and u.free_estimated_min == round(6.20 * TiB)
        and u.global_reserve == 512 * MiB and u.global_reserve_used == 0 and u.multiple_profiles is True
        and (u.data_ratio, u.metadata_ratio) == (1.99, 2.0) and u.exact is False and u.device_slack is None
        and [(p.type, p.profile, len(p.devices)) for p in u.profiles] == [
            ("Data", "single", 1), ("Data", "RAID1", 2), ("Metadata", "RAID1", 2), ("System", "RAID1", 2)]
        and u.profiles[1].devices[0] == ("/dev/mapper/backup_a", round(6.46 * TiB))
        and u.unallocated == (("/dev/mapper/backup", round(7.24 * TiB)),))),
    # --- qgroup show
    "qgroup_show_-rep_--raw_btrfs-progs-6.1.2_libstorage-ng-swap1.txt": (P.parse_qgroup_show, _qgroups(14, {
        "0/5": (16384, 16384, None, None, (), "<toplevel>"),
        "0/257": (99098624, 99098624, None, None, (), "@/var"),
        "0/267": (2893553664, 13606912, None, None, ("1/0",), "@/.snapshots/2/snapshot"),
        "1/0": (2893553664, 13606912, None, None, (), "<0 member qgroups>")})),
    "qgroup_show_-rep_--raw_old-format_libstorage-ng-btrfs5.txt": (P.parse_qgroup_show, _qgroups(7, {
        "0/5": (16384, 16384, None, None, (), None),
        "0/256": (16384, 16384, None, None, ("1/0",), None),
        "1/0": (32768, 32768, 16384, 8192, ("2/0",), None),
        "2/0": (32768, 32768, None, None, (), None)})),
    "qgroup_show_format-json_btrfs-progs-6.15_libstorage-ng-luks4.json": (P.parse_qgroup_show, _qgroups(13, {
        "0/5": (16384, 16384, None, None, (), None),
        "0/257": (147488768, 147488768, None, None, (), "@/var"),
        "0/260": (2330624, 2330624, None, None, (), "@/root")})),
    # --- scrub
    "scrub_start-B_done_with-errors_linux-btrfs-ml.txt": (P.parse_scrub_status, _scrub(
        ScrubState.FINISHED, "new", "d90583c8-9284-48b4-9444-abd00924002a", duration_seconds=166,
        errors=(("csum", 110693),), corrected=0, uncorrectable=110693, unverified=0,
        messages=("ERROR: there are 1 uncorrectable errors", "Starting scrub on devid 1"))),
    "scrub_status_-R_aborted_legacy-format_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.ABORTED, "legacy", "8adf7f0b-65ec-4e00-83cc-7f5855201185", duration_seconds=296,
        started="Mon Aug  7 15:29:52 2017", raw_data_bytes_scrubbed=83593609216, raw_last_physical=103077314560)),
    "scrub_status_-R_aborted_new-format_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.ABORTED, "new", "9ccfb511-b222-4528-944c-4837b9eb089a", duration_seconds=1,
        raw_data_bytes_scrubbed=1206571008, raw_csum_discards=291267)),
    "scrub_status_-R_finished_legacy-format_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.FINISHED, "legacy", "030baa1c-faab-4599-baa4-6077f7f6451b", duration_seconds=16,
        raw_data_bytes_scrubbed=2881429504, raw_csum_errors=0)),
    "scrub_status_-R_finished_new-format_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.FINISHED, "new", U_SYS, duration_seconds=4, started="Thu Feb  9 14:54:32 2023",
        raw_data_bytes_scrubbed=4384448512, raw_no_csum=544)),
    "scrub_status_-R_interrupted_legacy-format_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.INTERRUPTED, "legacy", "8adf7f0b-65ec-4e00-83cc-7f5855201185", duration_seconds=9,
        raw_data_extents_scrubbed=49335)),
    "scrub_status_-R_interrupted_new-format_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.INTERRUPTED, "new", U_SYS, duration_seconds=0, raw_data_bytes_scrubbed=415387648)),
    "scrub_status_-R_no-stats-available_legacy_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.NO_STATS, "legacy", "8adf7f0b-65ec-4e00-83cc-7f5855201185", started=None,
        raw_data_bytes_scrubbed=0, raw_last_physical=0)),
    "scrub_status_-R_running_legacy-format_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.RUNNING, "legacy", "030baa1c-faab-4599-baa4-6077f7f6451b", duration_seconds=5,
        raw_tree_bytes_scrubbed=73646080)),
    "scrub_status_-R_running_new-format_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.RUNNING, "new", U_SYS, duration_seconds=0, raw_data_bytes_scrubbed=6397952)),
    "scrub_status_finished_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.FINISHED, "new", U_SYS, duration_seconds=8, total_bytes=round(4.15 * GiB),
        rate_bytes_per_second=round(530.83 * MiB), errors=())),
    "scrub_status_interrupted_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.INTERRUPTED, "new", U_SYS, duration_seconds=0, rate_bytes_per_second=0)),
    "scrub_status_running_eta_linux-btrfs-ml.txt": (P.parse_scrub_status, _scrub(
        ScrubState.RUNNING, "new", "a31e55af-8bbf-4f00-9ad8-1423d492d108", duration_seconds=23 * 3600 + 10 * 60 + 13,
        time_left_seconds=296 * 3600 + 36 * 60 + 44, eta="Thu Aug 15 18:05:09 2024", percent=7.25,
        total_bytes=round(28.03 * TiB), bytes_scrubbed=round(2.03 * TiB))),
    "scrub_status_running_rockstor.txt": (P.parse_scrub_status, _scrub(
        ScrubState.RUNNING, "new", U_SYS, duration_seconds=1, time_left_seconds=9, percent=9.53,
        bytes_scrubbed=round(404.88 * MiB))),
    "scrub_status_uncorrectable-errors_linux-btrfs-ml.txt": (P.parse_scrub_status, _scrub(
        ScrubState.FINISHED, "new", "d90583c8-9284-48b4-9444-abd00924002a", errors=(("csum", 110693),),
        corrected=0, uncorrectable=110693, unverified=0, duration_seconds=166)),
    # --- get-default
    "subvolume_get-default_FS_TREE_rockstor.txt": (P.parse_get_default, _default(5, "", None)),
    "subvolume_get-default_linux-btrfs-ml.txt": (P.parse_get_default, _default(453, "@/.snapshots/128/snapshot", 270)),
    "subvolume_get-default_snapper-rolled-back_leap-15.2_rockstor.txt": (
        P.parse_get_default, _default(456, "@/.snapshots/117/snapshot", 258)),
    # --- subvolume list
    "subvolume_list_-a-puq_libstorage-ng-luks4.txt": (P.parse_subvolume_list, _list(
        11, (256, "@", 5, 5, "94511e2b-f711-444d-be16-78948c4b7d77", None),
        (266, "@/.snapshots/1/snapshot", 265, 265, "a52b003d-d0e9-0e44-a09d-184ef183a919", None),
        ro_unknown=_any_ro_none)),
    "subvolume_list_-a-puq_libstorage-ng-swap1.txt": (P.parse_subvolume_list, _list(
        12, (256, "@", 5, 5, "5667b11f-1b9a-eb4c-8085-e47881f11001", None),
        (267, "@/.snapshots/2/snapshot", 265, 265, "a0bab3f5-dd3d-574d-aa64-d9fc12cb4be7",
         "0728e28e-8b6a-cf48-b43b-975ed3b80e1a"))),
    "subvolume_list_-a-puq_nested_libstorage-ng-systeminfo.txt": (P.parse_subvolume_list, _list(
        3, (256, "1a", 5, 5, "a3dc5067-ec7e-f046-8538-e768583d1f4e", "d6b02b4f-368c-4c49-b749-60ccbafeaa9a"),
        (259, "2b", 5, 5, "2c58057e-640b-dc48-92d5-9d1c35185d7a", "19e6acf1-5fbe-8345-be44-8cd6685d39a2"),
        nested=lambda s: s[1].path == "2b/2a" and s[1].parent_id == 259)),
    "subvolume_list_-a-puq_snapper_libstorage-ng-btrfs1.txt": (P.parse_subvolume_list, _list(
        20, (256, "@", 5, 5, "891bfe67-410b-904e-a0b0-0d6a6ada05d7", None),
        (287, "@/.snapshots/10/snapshot", 266, 266, "db17f9ee-a399-3b43-a28f-11efd6d3d56c",
         "0d0095f9-ffc2-644a-b2ff-433bdff7b1d3"))),
    "subvolume_list_-p_linux-btrfs-ml.txt": (P.parse_subvolume_list, _list(
        2, (425, "root", 5, 5, None, None), (426, "swap", 5, 5, None, None),
        gen=lambda s: [x.gen for x in s] == [17482, 16880])),
    "subvolume_list_-p_opensuse-root-at-layout_rockstor.txt": (P.parse_subvolume_list, _list(
        23, (257, "@", 5, 5, None, None),
        (329, ".snapshots/clone-sys-pool-share/snap-clone-sys-pool-share-writable-visible", 257, 257, None, None))),
    "subvolume_list_-s_replication_uuid-named_rockstor.txt": (P.parse_subvolume_list, _list(
        6, (311, ".snapshots/rock-share/rock-share_1_replication_27", 5, None, None, None),
        (336, ".snapshots/C583C37F-08AE-478B-A726-E95235D1712B_dev-rock-share/dev-rock-share_1_replication_49", 5,
         None, None, None),
        otime=lambda s: (s[0].otime, s[0].cgen, s[2].cgen) == ("2018-05-13 20:55:02", 162, 275))),
    "subvolume_list_-s_snapper-root_rockstor.txt": (P.parse_subvolume_list, _list(
        11, (272, "@/.snapshots/2/snapshot", 267, None, None, None),
        (301, "@/.snapshots/20/snapshot", 267, None, None, None),
        otime=lambda s: s[-1].otime == "2018-06-05 16:49:10" and s[-1].cgen == 2766)),
    "subvolume_list_-uR_grep-filtered_linux-btrfs-ml.txt": (P.parse_subvolume_list, _list(
        40, (9407, "btrbk/q.20221218T210012-0500", 5, None, "c73d6305-d71a-024a-9905-e1c8bb8a029b", None),
        (12907, "btrbk/q.20230218T054921-0500", 5, None, "11c71068-830b-044a-b032-3cc12947d88f", None),
        received=lambda s: s[1].received_uuid == "35ebfa2d-f1ba-5f4f-8ae1-6b7ee78e7e87"
        and s[0].received_uuid is None and sum(1 for x in s if x.received_uuid) == 17)),
    "subvolume_list_-uq_sles12sp3_unpadded-dash_linux-btrfs-ml.txt": (P.parse_subvolume_list, _list(
        32, (257, "@", 5, None, "294f484f-7ac6-ac4d-8b8b-953b377a3880", None),
        (14793, "@/.snapshots/1139/snapshot", 270, None, "ef9863a4-ff82-c947-8147-a9fa492335f8",
         "c85dc50a-b126-1441-bddd-2832afac58d2"))),
    "subvolume_list_plain_timeshift_linux-btrfs-ml.txt": (P.parse_subvolume_list, _list(
        5, (256, "@", 5, None, None, None), (682, "timeshift-btrfs/snapshots/2024-09-03_13-00-02/@", 5, None, None,
                                             None))),
    # --- subvolume show
    "subvolume_show_received-snapshot_linux-btrfs-ml.txt": (P.parse_subvolume_show, _details(
        "btrbk/q.20230218T054921-0500", "q.20230218T054921-0500", 12734, "f41b8364-5c1f-d74d-aa68-a44298993f65", True,
        received_uuid="11c71068-830b-044a-b032-3cc12947d88f", parent_uuid="cc4f736a-b3c0-6a49-846d-f1e7c77bd27f",
        gen=553712, cgen=553708, send_transid=433889, receive_transid=553709, snapshots=("q",))),
    # a mail paste that starts with the shell command line: not btrfs output, refused with a typed error
    "subvolume_show_snapshot-no-received-uuid_linux-btrfs-ml.txt": (P.parse_subvolume_show, "unindented line"),
    "subvolume_show_toplevel_btrfs-progs-6.15_libstorage-ng-luks4.txt": (P.parse_subvolume_show, _details(
        "", "<FS_TREE>", 5, "f6f0b0ba-b4b8-42da-8655-83359b1b76dc", False, parent_uuid=None, top_level=0,
        quota_group="0/5", snapshots=(), send_transid=0)),
    "subvolume_show_toplevel_libstorage-ng-btrfs1.txt": (P.parse_subvolume_show, _details(
        "", "<FS_TREE>", 5, "ff08c18e-3fab-472b-9d0b-1e14b4d10242", False, send_transid=None, quota_group="0/5")),
    "subvolume_show_toplevel_old-progs_one-line_linux-btrfs-ml.txt": (P.parse_subvolume_show, _details(
        "", "<FS_TREE>", 5, None, None)),
    "subvolume_show_toplevel_uuid-dash_libstorage-ng-systeminfo.txt": (P.parse_subvolume_show, _details(
        "", "<FS_TREE>", 5, None, False, creation_time=None, gen=72, snapshots=("1a",))),
}


def test_every_corpus_sample_has_an_expectation(corpus: Path) -> None:
    """A sample added to the corpus without an entry here fails, and so does an entry without a sample."""
    names = sorted(p.name for p in (corpus / "btrfs").iterdir())
    assert sorted(EXPECT) == names


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_corpus_sample(corpus: Path, name: str) -> None:
    """Parse one sample as bytes: the typed result has the fields written above, or a ParseError naming the file."""
    path = corpus / "btrfs" / name
    if not path.is_file():
        pytest.skip(f"corpus sample {name} is not in this corpus copy")
    parser, expected = EXPECT[name]
    data = path.read_bytes()
    if isinstance(expected, str):
        with pytest.raises(ParseError) as err:
            parser(data, source=name)
        assert name in str(err.value) and expected in str(err.value)
        return
    result = parser(data, source=name)
    outcome = expected(result)
    assert outcome is None or outcome is True
    # the text form gives the same result as the bytes form
    assert parser(data.decode("utf-8"), source=name) == result
