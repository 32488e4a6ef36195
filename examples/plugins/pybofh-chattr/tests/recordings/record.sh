#!/bin/sh
# Record lsattr's real outputs into this folder (root; e2fsprogs, util-linux): an ext4 on a loop device, mounted on
# a temp dir as /mnt/chattr would be, files with known attributes, then everything undone. Paths in the outputs are
# the temp mountpoint's; the tests read each file's path from its own line.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
img="$work/ext4.img"
truncate -s 64M "$img"
dev=$(losetup --find --show "$img")
cleanup() {
    chattr -R -i -a "$work/mnt" 2>/dev/null || true
    umount "$work/mnt" 2>/dev/null || true
    umount "$work/tmpfs" 2>/dev/null || true
    losetup -d "$dev"
    rm -rf "$work"
}
trap cleanup EXIT
mkfs.ext4 -q -F "$dev"
mkdir "$work/mnt"
mount -t ext4 "$dev" "$work/mnt"
m="$work/mnt"
touch "$m/plain" "$m/immutable" "$m/append-only" "$m/name with spaces" "$m/many"
mkdir "$m/dir"
touch "$m/dir/a" "$m/dir/b"
chattr +i -- "$m/immutable"
chattr +a -- "$m/append-only"
chattr +i -- "$m/dir/b"
chattr +SdAia -- "$m/many"
{ lsattr -V 2>&1 | head -1; uname -sr; } > "$here/VERSION.txt"
lsattr -d -- "$m/plain" > "$here/lsattr-d_plain.txt"
lsattr -d -- "$m/immutable" > "$here/lsattr-d_immutable.txt"
lsattr -d -- "$m/append-only" > "$here/lsattr-d_append-only.txt"
lsattr -d -- "$m/name with spaces" > "$here/lsattr-d_spaces.txt"
lsattr -d -- "$m/dir" > "$here/lsattr-d_dir.txt"
lsattr -d -- "$m/many" > "$here/lsattr-d_many.txt"
lsattr -- "$m/dir" > "$here/lsattr_dir-contents.txt"
lsattr -d -v -- "$m/plain" > "$here/lsattr-d-v_plain.txt"
lsattr -d -v -- "$m/immutable" > "$here/lsattr-d-v_immutable.txt"
lsattr -d -l -- "$m/immutable" > "$here/lsattr-d-l_immutable.txt"
lsattr -d -p -- "$m/immutable" > "$here/lsattr-d-p_immutable.txt"
# A tmpfs of its own (never a system one): it has attributes (Linux >= 6.0) but no inode generation for -v.
mkdir "$work/tmpfs"
mount -t tmpfs -o size=1M pybofh-chattr-rec "$work/tmpfs"
touch "$work/tmpfs/f"
lsattr -d -v -- "$work/tmpfs/f" 2> "$here/lsattr-d-v_tmpfs.stderr.txt" && exit 1
lsattr -d -- "$work/tmpfs/f" > "$here/lsattr-d_tmpfs.txt"
# A file without attributes (read only: lsattr), on stderr with exit status 1.
lsattr -d -- /proc/self/status 2> "$here/lsattr-d_proc.stderr.txt" && exit 1
echo "recorded into $here"
