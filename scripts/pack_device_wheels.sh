#!/usr/bin/env bash
# Pack the packages the device machine's image lacks (kornia, kornia_rs, decord, av, cdflib, at
# the versions of this venv) for Python 3.12 on x86-64 Linux into .whl/site.tar.xz, ready to
# unpack onto PYTHONPATH there (scripts/gpu_check.sh does). Run here, with the venv active:
#
#   bash scripts/pack_device_wheels.sh
#
# The wheels alone are 55 MB, which with the repository passes the device tool's 64 MiB; unpacked
# and re-packed with xz they are about 38 MB. .whl/ is git-ignored.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
wheels=$(mktemp -d) site=$(mktemp -d)
trap 'rm -rf "$wheels" "$site"' EXIT
for name in kornia kornia_rs decord av cdflib; do
    version=$(python -m pip show "$name" | awk '/^Version/ {print $2}')
    python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 \
        --platform manylinux1_x86_64 -d "$wheels" "$name==$version"
done
for wheel in "$wheels"/*.whl; do unzip -q -o "$wheel" -d "$site"; done  # a wheel's install is its unzip
mkdir -p "$here/.whl"
tar -C "$site" -cf - . | xz -9 -T2 > "$here/.whl/site.tar.xz"
ls -l "$here/.whl/site.tar.xz"
