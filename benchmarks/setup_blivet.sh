#!/usr/bin/env bash
# Build the blivet venv for the comparison benchmark: blivet 3.7.1 from PyPI on Debian's python3 with Debian's
# libblockdev 2 GObject bindings (Debian 12 has no python3-blivet, and newer blivet needs libblockdev 3).
set -euo pipefail
venv=${1:-/var/cache/pybofh-bench/blivet-venv}
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends python3-venv python3-gi gir1.2-blockdev-2.0 python3-blockdev \
  libblockdev-plugins-all python3-bytesize python3-pyudev python3-parted udev >/dev/null
mkdir -p "$(dirname "$venv")"
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install -q "blivet==3.7.1"
"$venv/bin/python" -c "import blivet; print('blivet', blivet.__version__ if hasattr(blivet, '__version__') else '3.7.1')"
