"""Every hook a pybofh plugin can implement, in the order a job meets them.

Read top to bottom: plugins first *register* what they offer (operations and their inverses, settings, CLI
commands), then pybofh *probes* block devices through them (and asks each what it sees, for ``bofh status``), and
finally it tells them about *atomic-block events* (steps, commits, rollbacks). Implementations are marked with
``pybofh_core.hookimpl`` and may accept fewer arguments than a spec offers. Specs only ever gain arguments; none is
renamed or removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .cli_registry import CliRegistry
    from .layers import Layer
    from .operations import OperationRegistry
    from .settings import SettingsRegistry
    from .status import StatusSection

PROJECT = "pybofh"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -------------------------------------------------------------------------------------------------------------------
# Registration: what a plugin offers. Historic, so a plugin registered late (a test fixture, a site plugin) still
# registers. Each is called once per plugin; none may run commands or touch the system.
# -------------------------------------------------------------------------------------------------------------------


@hookspec(historic=True)
def pybofh_register_operations(registry: OperationRegistry) -> None:
    """Add this plugin's operations, each with its inverse or its reason to be irreversible, to ``registry``.

    Called once per plugin when the plugin manager starts, or when the plugin is registered later.
    Typically ``registry.add_module("lvm", "pybofh_lvm.ops")``, which registers every ``@operation`` function of
    that module under the domain ``lvm`` (so ``Atomic().lvm.create_lv`` and ``bofh journal rollback`` find them by
    name). Given as an import path, the module is imported only when an operation of the domain is first needed.

    :param registry: the ``OperationRegistry`` of this process.
    :returns: nothing; results are ignored.

    Must not run commands or import the plugin's heavy modules: pass the ``ops`` module by import path.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def pybofh_register_settings(registry: SettingsRegistry) -> None:
    """Declare this plugin's settings: ``registry.add("xen", XenSettings)`` with a dataclass of typed defaults.

    Called once per plugin, before any configuration file is read, so unknown keys can be reported as typos.
    Values then come from ``/etc/pybofh/config.toml``, the user's config file, ``PYBOFH_<NS>__<KEY>``
    environment variables, ``--config FILE`` and ``Settings.override()``, in that order.

    :param registry: the ``SettingsRegistry`` to declare into.
    :returns: nothing; results are ignored.

    Must be cheap: no commands, no file reads.

    .. versionadded:: 0.1
    """


@hookspec(historic=True)
def pybofh_register_cli(registry: CliRegistry) -> None:
    """Add this plugin's typer sub-app: ``registry.add("lvm", "pybofh_lvm.cli:app", help="LVM volumes")``.

    Called once per plugin when the ``bofh`` command starts. The app may be given as an object or, better, as an
    import path so ``bofh`` imports it only when that sub-command runs (start-up time matters in shell loops).

    :param registry: the ``CliRegistry`` of the ``bofh`` command.
    :returns: nothing; results are ignored.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------------------------------------------------
# Probing: questions about the system. The first plugin that knows answers, except for the status (every plugin).
# -------------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def pybofh_probe_device(device: str) -> Layer | None:
    """Say what kind of device ``device`` itself is (an LVM LV, a loop device, a DRBD minor) as a resizable Layer.

    Called by the block-device stack model for the outermost device of a stack, before its content is probed.
    Stops at first non-None result. Return ``None`` for "not mine". The returned layer is a container whose
    ``Layer.open()`` returns ``device`` itself and whose ``resize`` resizes the device
    (``lvresize``, growing a loop's backing file…); its ``granularity`` is the device's size step (LVM extent size).

    :param device: the block device path, e.g. ``/dev/vg0/data`` or ``/dev/loop3``.
    :returns: a Layer for the device itself, or None.

    Must not change the system; may run read-only commands through the core runner.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def pybofh_probe_layer(device: str, probe: Mapping[str, str]) -> Layer | None:
    """Say what ``device`` contains as a ``Layer`` (LUKS, LVM PV, DRBD, a filesystem…).

    Called by the block-device stack model each time it looks at a device's content; may be called many times.
    Stops at first non-None result. Return ``None`` for "not mine"; any non-None value, even a falsy one, stops the
    chain. The generic filesystem/unknown answer is registered ``trylast`` by pybofh-blockdev, so specific layers
    from other plugins win.

    :param device: the block device path, e.g. ``/dev/loop3``.
    :param probe: the low-level probe of the device (``blkid -p -o export`` keys: ``TYPE``, ``USAGE``, ``UUID``,
        ``LABEL``, ``VERSION``…); empty when nothing was recognised.
    :returns: a Layer describing the content, or None.

    Must not change the system; may run read-only commands through the core runner.

    .. versionadded:: 0.1
    """


@hookspec
def pybofh_probe_status() -> list[StatusSection] | None:
    """Say what this plugin sees on the system, for ``bofh status``: its sections of plain rows.

    Called for every plugin (not first-result), each on its own: an exception becomes one error section under the
    plugin's name and the other plugins still answer. Build the sections with ``pybofh_core.status.section(name,
    title, build, columns=…, sizes=…, order=…)``, which turns a failing ``build()`` into a section saying why:
    ``unavailable`` for a missing or unusable tool (``ToolUnavailableError``, a command that is not installed),
    ``error`` for anything else. Rows are JSON values with sizes as integer bytes. Read with one command per tool
    where the tool can list everything at once (``lvm fullreport``, not one ``lvs`` per VG).

    :returns: a list of ``pybofh_core.status.StatusSection`` (or one), or None for nothing to show.

    Must not change the system: read-only commands (``readonly=True``) through the core runner only, so it works
    under ``--host``; no local file reads about the target machine.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------------------------------------------------
# Running a command on several hosts: the first plugin that can answers (pybofh-ssh).
# -------------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def pybofh_run_on_hosts(argv: Sequence[str], hosts: Sequence[str], json_out: bool) -> int | None:
    """Run the ``bofh`` invocation ``argv`` once on each of ``hosts`` and print each host's result; return the exit
    code (0 all succeeded, 1 a host failed and was rolled back or was unreachable, 2 a host refused bad input).

    Called by the ``bofh`` root when more than one host is given (``--host A --host B``, ``--hosts-file``); the core
    itself knows no transport.
    Stops at first non-None result. Return None for "not mine".

    :param argv: the command line ``bofh`` received, root options included (``--host`` among them).
    :param hosts: the hosts, in the order given.
    :param json_out: whether ``--json`` was given anywhere.
    :returns: the exit code, or None.

    .. versionadded:: 0.2
    """


# -------------------------------------------------------------------------------------------------------------------
# Atomic blocks and rollback: events for auditing and monitoring. Called for every plugin; results ignored.
# -------------------------------------------------------------------------------------------------------------------


@hookspec
def pybofh_on_atomic_event(event: str, journal_id: str | None, step: Mapping[str, Any]) -> None:
    """Hear about an atomic block's progress: ``step-done``, ``step-failed``, ``commit``, ``undone``, ``undo-failed``.

    Called synchronously after the event was journalled, once per event and plugin; keep it quick. An exception
    raised here is logged and ignored: auditing must not break a job or its rollback.

    :param event: the event name, one of those listed above.
    :param journal_id: the block's journal id, or None for a block without a journal (dry run, ``journal=False``).
    :param step: ``{"step": N, "op": "lvm.create_lv", "args": {...}}`` with secrets redacted; ``{}`` for ``commit``.
    :returns: nothing; results are ignored.

    .. versionadded:: 0.1
    """
