#!/usr/bin/python
# Copyright: pybofh contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""pybofh.storage.facts: the target's storage overview (devices, mounts, loop devices, LVM) as pybofh reads it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: facts
short_description: The target's storage overview as pybofh reads it
version_added: 0.1.0
description:
  - Returns the target's block devices (with filesystem, LUKS and PV signatures, read right even without udev),
    mounts, loop devices and LVM physical volumes, volume groups and logical volumes, as the fact
    C(pybofh_storage), in the JSON of C(bofh --json blockdev list), C(bofh --json lvm lv list) and so on.
  - Read-only; a section whose plugin or tools are missing on the target is listed under C(unavailable) with the
    reason instead of failing the task.
requirements:
  - On the target, Python 3.11 or later with pybofh-core, pybofh-blockdev and (for C(lvm)) pybofh-lvm.
author:
  - pybofh contributors !UNKNOWN  # no GitHub handle to name
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
options:
  sections:
    description:
      - Which parts of the overview to read.
    type: list
    elements: str
    choices: [devices, mounts, loops, lvm, plugins]
    default: [devices, mounts, loops, lvm, plugins]
seealso:
  - module: pybofh.storage.job
"""

EXAMPLES = r"""
- name: Read the storage overview
  pybofh.storage.facts:

- name: LVM only
  pybofh.storage.facts:
    sections: [lvm]

- name: Use it
  ansible.builtin.debug:
    msg: "{{ ansible_facts.pybofh_storage.lvm.lvs | map(attribute='name') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: The overview.
  returned: always
  type: dict
  contains:
    pybofh_storage:
      description: One key per section read, plus C(unavailable).
      type: dict
      contains:
        devices:
          description: Every block device (C(bofh --json blockdev list)), parents and children by key.
          type: list
          elements: dict
        mounts:
          description: Mounted filesystems (target, source, fstype, options, fsroot).
          type: list
          elements: dict
        loops:
          description: Attached loop devices and their backing files.
          type: list
          elements: dict
        lvm:
          description: C(pvs), C(vgs) and C(lvs), sizes in bytes.
          type: dict
        plugins:
          description: The pybofh plugins installed on the target, their versions and load errors.
          type: list
          elements: dict
        unavailable:
          description: Section name to the reason it could not be read.
          type: dict
"""

import traceback  # noqa: E402 - ansible-test wants imports below the docs

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402 - below the docs

PYBOFH_IMPORT_ERROR = None
try:
    from pybofh_core.errors import PybofhError
    from pybofh_core.render import to_plain
except ImportError:
    PYBOFH_IMPORT_ERROR = traceback.format_exc()

SECTIONS = ["devices", "mounts", "loops", "lvm", "plugins"]


def _read(section: str) -> object:
    """One section of the overview, as plain JSON values."""
    if section == "plugins":
        from pybofh_core.session import get_plugins

        return [info.to_json() for info in get_plugins().list()]
    if section == "lvm":
        from pybofh_lvm import facts as lvm

        return {"pvs": to_plain(lvm.list_pvs()), "vgs": to_plain(lvm.list_vgs()), "lvs": to_plain(lvm.list_lvs())}
    from pybofh_blockdev import facts

    reader = {"devices": facts.list_devices, "mounts": facts.list_mounts, "loops": facts.list_loops}[section]
    return to_plain(reader())


def main() -> None:
    """Read each asked-for section; report the ones that cannot be read instead of failing."""
    module = AnsibleModule(
        argument_spec={"sections": {"type": "list", "elements": "str", "choices": SECTIONS, "default": SECTIONS}},
        supports_check_mode=True,
    )
    if PYBOFH_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("pybofh-core"), exception=PYBOFH_IMPORT_ERROR)
    storage: dict[str, object] = {"unavailable": {}}
    for section in module.params["sections"]:
        try:
            storage[section] = _read(section)
        except (ImportError, PybofhError) as exc:
            storage["unavailable"][section] = str(exc)  # type: ignore[index]
    module.exit_json(changed=False, ansible_facts={"pybofh_storage": storage})


if __name__ == "__main__":
    main()
