# SPDX-License-Identifier: Apache-2.0
# Sourced by the CLI tests: placeholder inputs for the variables the example
# manifests name (validate checks that inputs exist, and parses the firmware).
# Makes $scratch, a directory removed on exit, and puts them there; exits 77
# (skipped) where Debian's OVMF.fd is missing.
# shellcheck shell=bash
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export CVM_IMAGES=$scratch/images CVM_OUT=$scratch/out CVM_KBS_CA=$scratch/kbs-ca.pem
export CVM_TDX_FIRMWARE=$scratch/tdvf.fd CVM_REFERENCE_CCEL=$scratch/reference.ccel
mkdir -p "$CVM_IMAGES"
for f in debian-12-base.qcow2 debian-13-base.qcow2; do : >"$CVM_IMAGES/$f"; done
: >"$CVM_KBS_CA"
: >"$CVM_REFERENCE_CCEL"
# The examples name a measuring firmware (edk2 >= 202302), which this host
# does not have: Debian 12's OVMF.fd with one byte of its code changed keeps
# its TDVF metadata but is no longer the known edk2-stable202211 build, whose
# version validate would otherwise hold against the manifest.
ovmf=/usr/share/ovmf/OVMF.fd
[ -r "$ovmf" ] || { echo "skipped: $ovmf is missing (Debian package ovmf)"; exit 77; }
cp "$ovmf" "$CVM_TDX_FIRMWARE"
printf '\x5a' | dd of="$CVM_TDX_FIRMWARE" bs=1 seek=$((0x100000)) conv=notrunc status=none
