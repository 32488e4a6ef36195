"""A job for ``bofh run``: put ext4 on a device and mount it, as one atomic block.

    bofh --dry-run run examples/format_and_mount.py /dev/loop0 /mnt/data   # the plan; nothing changes
    bofh run examples/format_and_mount.py /dev/loop0 /mnt/data             # mkfs, mount; a failure undoes both

``args`` holds the words after the file name; ``dry_run`` says whether this is only a plan. Add ``fail`` as a
third word to see a job undone after its own check fails.
"""

from pathlib import Path

from pybofh import Atomic

device, mountpoint, *rest = args  # noqa: F821 - given by bofh run


def job():
    # mkfs destroys what the device held, and the job did not create the device: say so explicitly
    with Atomic(allow_irreversible=True) as atomic:
        atomic.blockdev.create_filesystem(device, "ext4")
        atomic.blockdev.mount(device, mountpoint)
    if not dry_run:  # noqa: F821 - the job's own Python runs in a dry run too: it asks before it writes
        Path(mountpoint, "hello").write_text("from the job")
    if rest == ["fail"]:
        raise RuntimeError("the job's own check failed")
    return {"mounted": mountpoint}
