# shellcheck shell=bash disable=SC2034,SC2154
# (SC2034: tpm_qemu_args is for the caller; SC2154: the caller sets cvmforge and here.)
# SPDX-License-Identifier: Apache-2.0
# The boot oracle's pieces (issue 5), shared by tpm_oracle.sh (recovery
# images) and attested_unlock.sh (attested UKI images, the one-byte test):
# a fresh software TPM per boot, the guest steps that read the firmware's TCG
# event log back over the serial console, the prediction `cvmforge measure`
# makes for the image layer, and the event-by-event comparison.
#
# Sourced, not run. Callers set `cvmforge` (the CLI) and `here` (this
# directory) and call tpm_stop_all from their EXIT trap.
#
# Why a TPM VM can check a TD's prediction: the image layer (GPT, every
# LoadImage'd PE, the kernel stub's and systemd-stub's measurements) goes
# through the same edk2 handlers with the TCG2 and the CC measurement
# protocol, and a PCR maps to an RTMR as TDVF maps it (PCR 1,7 -> RTMR0;
# 2-6 -> RTMR1; 8-15 -> RTMR2). The platform layer (RTMR0: ACPI tables,
# variables) is different hardware and is not compared.

TPM_EVENT_LOG=/sys/kernel/security/tpm0/binary_bios_measurements
tpm_pids=()
tpm_qemu_args=() # set by tpm_start, read by the caller

# Prints why the oracle cannot run here, or nothing.
tpm_missing() {
  local t
  for t in swtpm:swtpm swtpm_setup:swtpm-tools python3:python3 qemu-img:qemu-utils; do
    command -v "${t%%:*}" >/dev/null 2>&1 || { echo "'${t%%:*}' not found (Debian package ${t#*:})"; return 0; }
  done
  [ -r "${CVM_TDVF:-/usr/share/ovmf/OVMF.fd}" ] || echo "${CVM_TDVF:-/usr/share/ovmf/OVMF.fd} not readable (Debian package ovmf)"
}

# tpm_start DIR: a fresh TPM 2.0 (SHA-256 and SHA-384 banks) with its state in
# DIR. Sets tpm_qemu_args: the boot-test arguments that attach it.
tpm_start() {
  local d sock
  d=$(mkdir -p "$1" && cd "$1" && pwd) # absolute: swtpm --daemon changes to /
  rm -rf "$d/state" "$d/swtpm.sock" "$d/swtpm.pid"
  mkdir -p "$d/state"
  swtpm_setup --tpm2 --tpmstate "$d/state" --pcr-banks sha256,sha384 --overwrite >"$d/swtpm_setup.log" 2>&1 ||
    { cat "$d/swtpm_setup.log"; echo "FAIL: swtpm_setup"; return 1; }
  sock=$d/swtpm.sock
  swtpm socket --tpm2 --tpmstate dir="$d/state" --ctrl type=unixio,path="$sock" \
    --log file="$d/swtpm.log" --pid file="$d/swtpm.pid" --daemon
  for _ in $(seq 50); do [ -S "$sock" ] && [ -s "$d/swtpm.pid" ] && break; sleep 0.1; done
  [ -s "$d/swtpm.pid" ] || { echo "FAIL: swtpm did not start"; return 1; }
  tpm_pids+=("$(cat "$d/swtpm.pid")")
  tpm_qemu_args=(--qemu-arg -chardev --qemu-arg "socket,id=chrtpm,path=$sock"
    --qemu-arg -tpmdev --qemu-arg "emulator,id=tpm0,chardev=chrtpm"
    --qemu-arg -device --qemu-arg "tpm-crb,tpmdev=tpm0")
}

tpm_stop_all() {
  local p
  for p in "${tpm_pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; fi
  done
  tpm_pids=()
}

# tpm_dump_args CAPTURE: boot-test steps (after --login) that print the event
# log, gzip + base64 between markers, and its sha256; one argument per line.
tpm_dump_args() {
  printf '%s\n' \
    --run 'dmesg -n 1; mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security' \
    --run "test -r $TPM_EVENT_LOG" \
    --run "echo ==TPM''LOG==; cat $TPM_EVENT_LOG | gzip -9 | base64 -w 76; echo ==TPM''END==; sha256sum $TPM_EVENT_LOG" \
    --save-output "$1"
}

# tpm_extract CAPTURE OUT: the event log from a console capture, checked
# against the sha256 the guest printed.
tpm_extract() {
  python3 - "$1" "$2" "$TPM_EVENT_LOG" <<'EOF'
import base64, gzip, hashlib, re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
# Not anchored: the shell may put terminal control sequences before the first
# output line. The echoed command line has ==TPM''LOG==, so it cannot match.
m = re.search(r"==TPMLOG==\n(.*?)^==TPMEND==\n", text, re.S | re.M)
if not m:
    sys.exit("FAIL: no ==TPMLOG== ... ==TPMEND== block in the console output")
data = gzip.decompress(base64.b64decode("".join(m.group(1).split())))
want = re.search(r"^([0-9a-f]{64})  " + re.escape(sys.argv[3]) + "$", text, re.M)
if not want or hashlib.sha256(data).hexdigest() != want.group(1):
    sys.exit("FAIL: the event log did not survive the serial console (sha256 differs)")
open(sys.argv[2], "wb").write(data)
print(f"event log: {len(data)} bytes, sha256 {want.group(1)}")
EOF
}

# tpm_predict OUT MEMORY_MIB MEASURE_INPUTS...: OUT.json and OUT.txt, the
# image layer `cvmforge measure` predicts for a TD booting these artifacts.
#
# The host's OVMF (Debian 12: edk2 2022.11) measures into the TPM; its TDX
# build would not measure at all (< edk2-stable202302: the model predicts no
# event then), so the prediction is made for an edk2 with RTMR measurement.
# The image-layer events do not depend on the edk2 version in grub or UKI
# boot: GPT and every LoadImage'd PE go through the same handler on both
# paths (SecurityPkg DxeTpm2MeasureBootLib, TCG2 and CC protocol since
# edk2-stable202202, commit a124cd4ef9). cvmforge knows Debian 12's OVMF.fd
# by its bytes as edk2-stable202211 (measurement/firmware_db.cpp) and refuses
# another --ovmf-version for it. The file only feeds MRTD and RTMR0 here,
# which the oracle does not compare, so the prediction reads a copy with one
# byte of its variable-store template (CFV, offset 0x1ffff) inverted: the
# same TDVF layout, a build the model does not know by its digest.
tpm_predict() {
  local out=$1 mem=$2 qemu_version fw
  shift 2
  fw=$out.tdvf.fd
  python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[0x1ffff] ^= 0xff; open(sys.argv[2], "wb").write(b)' \
    "${CVM_TDVF:-/usr/share/ovmf/OVMF.fd}" "$fw"
  qemu_version=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
  local common=(--firmware "$fw" --memory "$mem" --qemu-version "$qemu_version" --ovmf-version edk2-stable202411)
  # Its notes and warnings (RTMR0 is not predicted: the platform layer is not
  # compared; the verdict's NOT BOUND follows from that) go to OUT.log.
  local rc=0
  { "$cvmforge" measure "$@" "${common[@]}" --format json -o "$out.json" &&
    "$cvmforge" measure "$@" "${common[@]}" --format text -o "$out.txt"; } >"$out.log" 2>&1 || rc=$?
  rm -f "$fw"
  if [ "$rc" -ne 0 ]; then
    cat "$out.log"
    echo "FAIL: cvmforge measure (exit $rc)"
  fi
  return "$rc"
}

# tpm_compare LOG PREDICTION_JSON OUT: `measure replay` of the TPM log against
# the prediction (OUT.txt, OUT.json); prints the image-layer table. Non-zero
# when an event the model predicts was measured with another digest or is
# missing.
tpm_compare() {
  local log=$1 pred=$2 out=$3 rc=0
  "$cvmforge" measure replay --tpm-log "$log" --expected "$pred" --format text -o "$out.txt" || rc=$?
  "$cvmforge" --json measure replay --tpm-log "$log" --expected "$pred" -o "$out.json" >/dev/null 2>&1 || true
  sed -n '/^image layer, event by event:/,$p' "$out.txt"
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: the firmware measured something else than predicted (exit $rc); see $out.txt"
  fi
  return "$rc"
}

# tpm_check_uki OUT UKI STUB KERNEL_VERSION: after tpm_compare on a UKI boot,
# the UKI itself must have been compared, and nothing the log has may be left
# unexplained: every log-only image-layer event must be a TPM-only
# measurement of this UKI's own bytes (tpm_oracle_uki.py lists which).
tpm_check_uki() {
  local out=$1 uki=$2 stub=$3 kver=$4
  grep -qE '^ +1 +4 +uki +.* match ' "$out.txt" || { echo "FAIL: the UKI event was not compared"; return 1; }
  echo "== log-only image-layer events: each must be a TPM-only measurement of this UKI"
  python3 "$here/tpm_oracle_uki.py" "$out.json" "$uki" "$stub" "$kver" ||
    { echo "FAIL: the log has image-layer events the model neither predicts nor can rule out for a TD"; return 1; }
}

# tpm_rtmr PREDICTION_JSON N: the predicted RTMR N (hex).
tpm_rtmr() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["rtmr"][sys.argv[2]])' "$1" "$2"
}
