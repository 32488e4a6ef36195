#!/usr/bin/python
# Copyright: pybofh contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""pybofh.storage.job: pybofh operations as one atomic, journalled block on the target, rolled back on failure."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: job
short_description: Run pybofh storage operations as one atomic block that is rolled back on failure
version_added: 0.1.0
description:
  - Runs a list of pybofh operations (LVM, LUKS, filesystems, mounts, and any other operation a pybofh plugin
    registers) on the target as one journalled atomic block, as C(bofh run) does.
  - If a step fails, every step that finished is undone, newest first, and the task fails with the rollback's
    outcome and the journal id (C(bofh journal show ID) on the target lists what ran and what was undone).
  - Check mode returns the plan (each step's commands and its undo's commands) and changes nothing; diff mode shows
    the same plan as text.
  - "Idempotency: before each step runs, its effect is looked for on the target, by identity and size. A step whose
    effect is present is skipped (status C(present)); a step whose object exists but differs is refused (the task
    fails, earlier steps are undone). Known operations, and what counts as present:
    C(lvm.create_pv) the device is a PV;
    C(lvm.create_vg) a VG of that name exists on exactly those devices (and extent size, if given), else conflict;
    C(lvm.create_lv) an LV vg/name exists with exactly the requested size (rounded as C(round) asks), else
    conflict; with a relative size (C(50%FREE)) only its name is compared;
    C(crypt.format) the device holds a LUKS header (of C(luks_type) and C(label), if given);
    C(crypt.open) the mapping is open over that device, else conflict;
    C(blockdev.create_filesystem) the device holds a filesystem of that type (and C(label)/C(uuid), if given);
    C(blockdev.mount) the device is mounted on that directory (options are not compared), else conflict.
    Where a format step finds another signature, it runs, and its own data check refuses unless C(force)."
  - Any other operation runs every time (so the task reports C(changed)), unless O(strict_idempotency) refuses it.
  - A play run twice therefore reports C(changed=false) the second time when it uses only the operations above.
requirements:
  - On the target, Python 3.11 or later (C(ansible_python_interpreter)) with pybofh-core and the plugins whose
    operations the job calls (pybofh-lvm, pybofh-crypt, pybofh-blockdev…), and the tools they wrap.
author:
  - pybofh contributors !UNKNOWN  # no GitHub handle to name
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  operations:
    description:
      - The steps, in order. Each is a mapping with one key, the operation C(domain.name) (C(lvm.create_lv),
        C(crypt.open), C(blockdev.mount); C(bofh plugins --operations) lists them), whose value holds the
        operation's arguments by name (a mapping) or in order (a list).
      - Secret arguments (passphrases) are masked in the task's output and never written by pybofh.
    type: list
    elements: dict
    required: true
  allow_irreversible:
    description:
      - Allow irreversible steps (mkfs, LUKS format, removals) on what this job did not create. Without it they
        run only on what an earlier step of the same job made (as C(bofh run)); data checks apply either way.
    type: bool
    default: false
  strict_idempotency:
    description:
      - Refuse, before anything runs, a job with an operation whose effect the module cannot look for (any
        operation not listed in the description).
    type: bool
    default: false
  label:
    description:
      - The journal's label, shown by C(bofh journal list) on the target.
    type: str
    default: ansible pybofh.storage.job
  wait:
    description:
      - When another pybofh job holds an object a step acts on, wait for it instead of failing.
    type: bool
    default: false
notes:
  - The journal lives in the target's C(core.journal_dir) (C(/etc/pybofh/config.toml), or C(PYBOFH_JOURNAL_DIR)
    through the task's C(environment)). A job that changed nothing leaves no journal.
  - In check mode pybofh plans on the system as it is, so a step that needs what an earlier step only planned
    (an LV in a VG the job creates) stops the plan there; RV(plan_complete) is then false and the task does not fail.
seealso:
  - module: pybofh.storage.facts
"""

EXAMPLES = r"""
- name: An encrypted, mounted data volume
  pybofh.storage.job:
    operations:
      - lvm.create_lv: {vg: vg0, name: data, size: 10G}
      - crypt.format: {device: /dev/vg0/data, passphrase: "{{ vault_data_passphrase }}"}
      - crypt.open: {device: /dev/vg0/data, name: data_crypt, passphrase: "{{ vault_data_passphrase }}"}
      - blockdev.create_filesystem: {device: /dev/mapper/data_crypt, fstype: ext4}
      - blockdev.mount: {device: /dev/mapper/data_crypt, mountpoint: /srv/data}
    strict_idempotency: true

- name: Show the plan only
  pybofh.storage.job:
    operations:
      - lvm.create_lv: [vg0, scratch, 1G]
  check_mode: true
  register: planned
"""

RETURN = r"""
operations:
  description: Each entry of O(operations) with its arguments (secrets masked) and what became of it.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: The operation (aliases resolved).
      type: str
      sample: lvm.create_lv
    args:
      description: Every argument, defaults included.
      type: dict
    status:
      description: C(present) (skipped), C(changed), C(planned), C(not planned), C(failed), C(undone),
        C(not undone), C(not run).
      type: str
      sample: present
    reason:
      description: Why it was skipped, or its error.
      type: str
  sample: [{"op": "lvm.create_lv", "args": {"vg": "vg0", "name": "data", "size": "10G", "round": null},
            "status": "present", "reason": "LV vg0/data exists with 10737418240 bytes (...)"}]
plan:
  description:
    - The pybofh steps that ran (or, in check mode, would run) with their commands, their undo and, in check mode,
      the undo's commands, as C(bofh --dry-run --json) prints them.
  returned: success
  type: list
  elements: dict
  sample: [{"step": 1, "op": "lvm.create_lv", "commands": ["lvcreate --yes -n data -L 10737418240b -- vg0"],
            "undo": "lvm.remove_lv('vg0', 'data')", "undo_commands": ["lvremove --yes -- vg0/data"]}]
plan_complete:
  description: Check mode only; false when planning stopped at a step that needs what an earlier one only planned.
  returned: check mode
  type: bool
journal_id:
  description: The target's journal of this job (none when nothing ran or in check mode).
  returned: always
  type: str
  sample: 20261203T081502-4242-0a1b2c
rolled_back:
  description:
    - On failure, whether the effect of every finished step is gone (undone, or an irreversible step on what the job
      itself made and removed again).
    - False, and the task C(changed), when an irreversible step allowed by O(allow_irreversible) on an existing
      device remains; the message names it.
  returned: failure
  type: bool
rollback:
  description: On failure, how each finished step was undone, newest first.
  returned: failure
  type: dict
  contains:
    status:
      description: C(rolled-back), C(nothing-ran), or C(needs-attention) (see C(bofh journal show)).
      type: str
    steps:
      description: Per step its C(op), C(undo), C(state) (C(undone), C(already), C(left-alone), C(failed),
        C(not undone)), C(detail) and the C(undo_commands) that ran.
      type: list
      elements: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402 - below the docs
from ansible_collections.pybofh.storage.plugins.module_utils.pybofh_job import (  # noqa: E402
    PYBOFH_IMPORT_ERROR,
    JobFailed,
    Refused,
    parse_operations,
    run_job,
    secret_values,
)


def _passphrases(entries: list) -> set[str]:
    """Values of arguments named like passphrases, masked before the list is even checked (errors quote it)."""
    found = set()
    for entry in entries or []:
        for value in entry.values() if isinstance(entry, dict) else []:
            for key, arg in value.items() if isinstance(value, dict) else []:
                if "passphrase" in str(key) and isinstance(arg, str) and arg:
                    found.add(arg)
    return found


def main() -> None:
    """Parse the task, resolve the operations, run or plan them, and exit with the result."""
    module = AnsibleModule(
        argument_spec={
            "operations": {"type": "list", "elements": "dict", "required": True},
            "allow_irreversible": {"type": "bool", "default": False},
            "strict_idempotency": {"type": "bool", "default": False},
            "label": {"type": "str", "default": "ansible pybofh.storage.job"},
            "wait": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    if PYBOFH_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("pybofh-core (and its plugins)"), exception=PYBOFH_IMPORT_ERROR)
    p = module.params
    module.no_log_values.update(_passphrases(p["operations"]))
    try:
        items = parse_operations(p["operations"])
        module.no_log_values.update(secret_values(items))
        result = run_job(items, check_mode=module.check_mode, allow_irreversible=p["allow_irreversible"],
                         strict=p["strict_idempotency"], label=p["label"], wait=p["wait"])
    except Refused as exc:
        module.fail_json(msg=str(exc), changed=False)
    except JobFailed as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    text = result.pop("diff_text")
    if module._diff and text and result["changed"]:
        result["diff"] = {"prepared": text}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
