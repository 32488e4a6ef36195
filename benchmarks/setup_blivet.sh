#!/usr/bin/env bash
# Build the blivet venv for the comparison benchmark: blivet 3.7.1 from PyPI on Debian's python3 with Debian's
# libblockdev 2 GObject bindings (Debian 12 has no python3-blivet, and newer blivet needs libblockdev 3).
# blivet itself is the only thing taken from PyPI, at an exact version: its dependencies (pyudev, six) and the
# setuptools/wheel that build its sdist come from Debian's packages (--no-deps --no-build-isolation), so nothing
# in the venv follows PyPI's newest releases (the project's constraints.txt is for its own Python 3.11 venvs).
set -euo pipefail
venv=${1:-/var/cache/pybofh-bench/blivet-venv}
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends python3-venv python3-gi gir1.2-blockdev-2.0 python3-blockdev \
  libblockdev-plugins-all python3-bytesize python3-pyudev python3-parted python3-six python3-setuptools \
  python3-wheel udev >/dev/null
mkdir -p "$(dirname "$venv")"
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install -q --no-deps --no-build-isolation "blivet==3.7.1"
"$venv/bin/python" -c "import blivet; print('blivet', blivet.__version__ if hasattr(blivet, '__version__') else '3.7.1')"
