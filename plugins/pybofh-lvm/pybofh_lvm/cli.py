"""``bofh lvm pv|vg|lv …``: thin commands that call the Python API and hand the result to the core renderer."""

from __future__ import annotations

from typing import Annotated

import typer

from pybofh_core.cli import ROUND_HELP, output, size_argument
from pybofh_core.validate import format_size

app = typer.Typer(no_args_is_help=True, help="LVM physical volumes, volume groups and logical volumes.")
pv_app = typer.Typer(no_args_is_help=True, help="Physical volumes.")
vg_app = typer.Typer(no_args_is_help=True, help="Volume groups.")
lv_app = typer.Typer(no_args_is_help=True, help="Logical volumes.")
app.add_typer(pv_app, name="pv")
app.add_typer(vg_app, name="vg")
app.add_typer(lv_app, name="lv")


def _size(n: int | None) -> str | None:
    return None if n is None else format_size(n)


def _table(rows: list[dict[str, object]], full: object) -> None:
    """Tables show human sizes; ``--json`` shows the full records with sizes in bytes."""
    from pybofh_core.cli import get_context

    output(full if get_context().json else rows)


# --- pv ---------------------------------------------------------------------------------------------------------


@pv_app.command("list")
def pv_list() -> None:
    """List physical volumes."""
    from . import facts

    pvs = facts.list_pvs()
    _table([{"pv": p.name, "vg": p.vg, "attr": p.attr, "size": _size(p.size_bytes), "free": _size(p.free_bytes)}
            for p in pvs], list(pvs))


@pv_app.command("show")
def pv_show(device: str) -> None:
    """Show the physical volume on DEVICE (sizes in bytes)."""
    from pybofh_core.validate import validate_path

    from . import facts

    output(facts.get_pv(validate_path(device, what="PV device", kind="block")))


@pv_app.command("create")
def pv_create(
    device: str,
    force: Annotated[bool, typer.Option("--force", "--wipe-signatures",
                                        help="Go ahead (and let LVM wipe them) although DEVICE holds signatures.")]
    = False,
) -> None:
    """Initialise DEVICE as a physical volume (refused while it holds a filesystem, LUKS or other signature, unless
    --force)."""
    from . import ops

    output(ops.create_pv(device, force=force))


@pv_app.command("remove")
def pv_remove(device: str) -> None:
    """Remove the PV label from DEVICE (it must not belong to a VG)."""
    from . import ops

    ops.remove_pv(device)


@pv_app.command("resize")
def pv_resize(
    device: str, size: Annotated[str | None, typer.Argument(help="Bytes or 10G; omit to fill.")] = None
) -> None:
    """Make the PV on DEVICE claim SIZE of it (default: all of it)."""
    from . import ops

    output(ops.resize_pv(device, size))


# --- vg ---------------------------------------------------------------------------------------------------------


@vg_app.command("list")
def vg_list() -> None:
    """List volume groups."""
    from . import facts

    vgs = facts.list_vgs()
    _table([{"vg": v.name, "attr": v.attr, "pvs": v.pv_count, "lvs": v.lv_count, "size": _size(v.size_bytes),
             "free": _size(v.free_bytes), "extent": _size(v.extent_size)} for v in vgs], list(vgs))


@vg_app.command("show")
def vg_show(vg: str) -> None:
    """Show volume group VG (sizes in bytes)."""
    from . import facts

    output(facts.get_vg(vg))


@vg_app.command("create")
def vg_create(
    name: str,
    devices: list[str],
    extent_size: Annotated[str | None, typer.Option("--extent-size", help="e.g. 4M (default: LVM's).")] = None,
) -> None:
    """Create volume group NAME on DEVICES."""
    from . import ops

    output(ops.create_vg(name, devices, extent_size=extent_size))


@vg_app.command("remove")
def vg_remove(name: str) -> None:
    """Remove the empty volume group NAME."""
    from . import ops

    ops.remove_vg(name)


@vg_app.command("extend")
def vg_extend(name: str, device: str) -> None:
    """Add DEVICE to volume group NAME."""
    from . import ops

    output(ops.extend_vg(name, device))


@vg_app.command("reduce")
def vg_reduce(name: str, device: str) -> None:
    """Remove the unused PV DEVICE from volume group NAME."""
    from . import ops

    output(ops.reduce_vg(name, device))


# --- lv ---------------------------------------------------------------------------------------------------------


@lv_app.command("list")
def lv_list(
    vg: Annotated[str | None, typer.Argument(help="Only this volume group.")] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include hidden sub-LVs.")] = False,
) -> None:
    """List logical volumes."""
    from . import facts

    lvs = facts.list_lvs(vg, include_hidden=all_)
    _table([{"lv": f"[{lv.name}]" if lv.hidden else lv.name, "vg": lv.vg, "attr": lv.attr,
             "size": _size(lv.size_bytes), "type": lv.segtype, "pool": lv.pool, "origin": lv.origin}
            for lv in lvs], list(lvs))


@lv_app.command("show")
def lv_show(vg: str, name: str) -> None:
    """Show logical volume VG/NAME, hidden ones too (sizes in bytes)."""
    from . import facts

    output(facts.get_lv(vg, name))


@lv_app.command("create")
def lv_create(
    vg: str,
    name: str,
    size: Annotated[str, typer.Argument(help="Bytes or 10G (whole extents), or 50%FREE / 100%VG (linear LVs).")],
    thin_pool: Annotated[str | None, typer.Option("--thin-pool", help="Make a thin LV in this pool.")] = None,
    pool: Annotated[bool, typer.Option("--pool", help="Make a thin pool instead of a linear LV.")] = False,
    round_: Annotated[str | None, typer.Option("--round", metavar="up|down", help=ROUND_HELP)] = None,
) -> None:
    """Create logical volume NAME of SIZE (whole extents) in VG."""
    from pybofh_core.errors import ValidationError

    from . import ops

    if pool and thin_pool:
        raise ValidationError("--pool and --thin-pool exclude each other")
    if pool:
        output(ops.create_thin_pool(vg, name, size))
    elif thin_pool:
        output(ops.create_thin_lv(vg, thin_pool, name, size))
    else:
        output(ops.create_lv(vg, name, size, round=round_))


ForceOpt = Annotated[bool, typer.Option("--force", help="Go ahead although pybofh found data it would destroy.")]


@lv_app.command("remove")
def lv_remove(vg: str, name: str, force: ForceOpt = False) -> None:
    """Remove logical volume VG/NAME and its data (refused while it holds a filesystem, LUKS or other data, is open,
    or has thin volumes or snapshots, unless --force)."""
    from . import ops

    ops.remove_lv(vg, name, force=force)


@lv_app.command("resize")
def lv_resize(
    vg: str,
    name: str,
    size: Annotated[str | None, typer.Argument(help="New size (10G; +100M, +50%FREE; after --: -1G).")] = None,
    force: ForceOpt = False,
    grow_by: Annotated[str | None, typer.Option("--grow-by", help="Grow by this much (same as SIZE +N).")] = None,
    shrink_by: Annotated[str | None, typer.Option("--shrink-by", help="Shrink by this much (SIZE -N).")] = None,
    round_: Annotated[str | None, typer.Option("--round", metavar="up|down", help=ROUND_HELP)] = None,
) -> None:
    """Make VG/NAME SIZE (the LV only: a shrink is refused unless its content is known to fit; 'bofh
    blockdev resize /dev/VG/NAME SIZE' shrinks the filesystem and LUKS inside it first)."""
    from . import ops

    output(ops.resize_lv(vg, name, size_argument(size, grow_by, shrink_by), force=force, round=round_))


@lv_app.command("rename")
def lv_rename(vg: str, name: str, new_name: str) -> None:
    """Rename VG/NAME to NEW_NAME."""
    from . import ops

    output(ops.rename_lv(vg, name, new_name))


@lv_app.command("snapshot")
def lv_snapshot(
    vg: str,
    origin: str,
    name: str,
    size: Annotated[str | None, typer.Argument(help="COW space; omit for a thin snapshot.")] = None,
) -> None:
    """Snapshot VG/ORIGIN as NAME."""
    from . import ops

    output(ops.snapshot_lv(vg, origin, name, size))


@lv_app.command("activate")
def lv_activate(vg: str, name: str) -> None:
    """Activate VG/NAME."""
    from . import ops

    output(ops.activate_lv(vg, name))


@lv_app.command("deactivate")
def lv_deactivate(vg: str, name: str) -> None:
    """Deactivate VG/NAME."""
    from . import ops

    output(ops.deactivate_lv(vg, name))


# --- report -----------------------------------------------------------------------------------------------------


@app.command("report")
def report_cmd() -> None:
    """List every VG, PV and LV from one 'lvm fullreport' (--json: the full records, sizes in bytes)."""
    from . import facts

    report = facts.full_report()
    rows: list[dict[str, object]] = []
    rows += [{"kind": "vg", "name": v.name, "vg": v.name, "attr": v.attr, "size": _size(v.size_bytes),
              "free": _size(v.free_bytes)} for v in report.vgs]
    rows += [{"kind": "pv", "name": p.name, "vg": p.vg, "attr": p.attr, "size": _size(p.size_bytes),
              "free": _size(p.free_bytes)} for p in report.pvs]
    rows += [{"kind": "lv", "name": f"[{lv.name}]" if lv.hidden else lv.name, "vg": lv.vg, "attr": lv.attr,
              "size": _size(lv.size_bytes), "free": None} for lv in report.lvs]
    _table(rows, report)


# --- TAB completion (read by bofh when it loads this app; see pybofh_core.cli.attach_completers) -----------------


def _vg_names(ctx: object, incomplete: str) -> list[str]:
    from .facts import list_vgs

    return [vg.name for vg in list_vgs()]


def _lv_names(ctx: object, incomplete: str) -> list[str]:
    """The LVs of the VG given before (not for a new LV's name: create, snapshot)."""
    vg = getattr(ctx, "params", {}).get("vg")
    if not vg or getattr(ctx, "info_name", "") in ("create", "snapshot"):
        return []
    from .facts import list_lvs

    return [lv.name for lv in list_lvs(vg)]


COMPLETERS = {"vg": _vg_names, "name": _lv_names}


#: Operations without a command of their own, and why (tests/test_cli_coverage.py holds every plugin to this)
NOT_IN_CLI = {
    "destroy_lv": "the irreversible inner step of 'lv remove', which checks the LV's data and use first",
    "destroy_vg": "the irreversible inner step of 'vg remove', which checks the VG's LVs first",
}

#: Public facts (readers) without a command of their own, and why (tests/test_cli_coverage.py)
FACTS_NOT_IN_CLI = {
    "is_pv": "a predicate 'pv show DEVICE' answers: it shows the PV, or fails when DEVICE is not one",
}
