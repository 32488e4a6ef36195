#!/bin/sh
# PID 1 of the pybofh test-bed guest: mount the kernel file systems, load virtio drivers,
# mount the per-run control share and hand over to the agent (under tini, which reaps orphans).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
modprobe -a virtio_mmio virtio_pci virtio_console virtio_rng 9pnet_virtio 9p virtio_blk virtio_net
mkdir -p /run/pybofh
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none pybofh_ctl /run/pybofh; then
    echo "PYBOFH-VM-FAILED: cannot mount the control share" >/dev/console
    exit 1
fi
exec /usr/bin/tini -s -- /usr/bin/python3 -u /run/pybofh/agent.py
