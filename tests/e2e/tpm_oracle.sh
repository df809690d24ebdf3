#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Boot oracle (issue 5): does the firmware measure what `cvmforge measure`
# predicts? Boots a cvmforge-built image under QEMU + OVMF with a software TPM
# (swtpm, SHA-256 and SHA-384 PCR banks), unlocks it with the recovery
# passphrase, reads the firmware's TCG event log from inside the guest and
# compares it with a prediction made from the image's own boot artifacts:
# every image-layer event (GPT, boot applications, the kernel stub's command
# line and initrd, shim/grub events) must be in the log with exactly the
# predicted digest. PCRs map to RTMRs as TDVF maps them. The platform layer
# (RTMR0: ACPI, variables; fixed actions and separators) is not compared: a
# TPM VM is different hardware from a TD.
#
# Two boot modes (the build report's boot.mode): grub (shim, grub and the
# kernel read back from the ESP and /boot) and uki (the unified kernel image
# read back from the ESP). For uki, every image-layer event in the log must
# also be accounted for: predicted, or one of the measurements that cannot
# occur in a TD because they go through the TCG2 protocol only, each checked
# against this UKI's own bytes by tpm_oracle_uki.py (which lists them):
# systemd-stub <= 255's PCR 11 section and PCR 12 load-option events, and the
# PCR 9 initrd / load-option events of a Linux EFI stub < 6.9.
#
# Usage: tpm_oracle.sh BUILD_DIR CVMFORGE
#   BUILD_DIR holds out/cvm.qcow2, out/cvm.qcow2.report.json and recovery.txt
#   (the build.<flavour> fixture). Exit 0 pass, 1 fail, 77 skipped.
set -euo pipefail
dir=${1:?usage: tpm_oracle.sh BUILD_DIR CVMFORGE}
cvmforge=${2:?usage: tpm_oracle.sh BUILD_DIR CVMFORGE}
# Absolute paths: swtpm --daemon changes to / before it opens its state.
dir=$(cd "$dir" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
boot=$here/../fixtures/boot-test
image=$dir/out/cvm.qcow2
report=$dir/out/cvm.qcow2.report.json
pass=$(head -n1 "$dir/recovery.txt")
prompt='(Please unlock disk cvmroot|Please enter passphrase for disk)'
# The unified OVMF image carries the TDVF metadata predict() parses (MRTD and
# RTMR0 only; the image layer does not depend on it). The boot itself uses
# boot-test's OVMF_CODE_4M.fd, which has TPM 2.0 support.
tdvf=${CVM_TDVF:-/usr/share/ovmf/OVMF.fd}
mem=1024

skip() { echo "skipped: $*"; exit 77; }
for t in swtpm:swtpm swtpm_setup:swtpm-tools guestfish:libguestfs-tools python3:python3 qemu-img:qemu-utils; do
  command -v "${t%%:*}" >/dev/null 2>&1 || skip "'${t%%:*}' not found (Debian package ${t#*:})"
done
[ -r "$tdvf" ] || skip "$tdvf not readable (Debian package ovmf)"
if [ ! -r "$image" ] || [ ! -r "$report" ]; then
  echo "FAIL: no built image in $dir (run build.<flavour> first)"; exit 1
fi

work=$dir/tpm-oracle
rm -rf "$work"
mkdir -p "$work/artifacts" "$work/tpm"
swtpm_pid=""
cleanup() {
  if [ -n "$swtpm_pid" ] && kill -0 "$swtpm_pid" 2>/dev/null; then kill "$swtpm_pid"; fi
  if [ -n "${GUESTFISH_PID:-}" ]; then guestfish --remote -- exit >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

report_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$report" "$1"; }

mode=$(report_field 'd.get("boot", {}).get("mode", "grub")')
case "$mode" in
  grub | uki) ;;
  *) echo "FAIL: boot.mode $mode: the oracle boots grub and uki images from their own disk"; exit 1 ;;
esac
echo "== boot artifacts from the built image (read-only; boot.mode $mode)"
kver=$(report_field 'd["boot_artifacts"]["kernel_version"]')
if [ "$mode" = grub ]; then
  kpath=$(report_field 'next(k["kernel"] for k in d["kernels"] if k["version"] == d["boot_artifacts"]["kernel_version"])')
  ipath=$(report_field 'next(k["initrd"] for k in d["kernels"] if k["version"] == d["boot_artifacts"]["kernel_version"])')
  report_field 'd["boot_artifacts"]["cmdline"]' >"$work/artifacts/cmdline"
  echo "kernel $kver: $kpath, $ipath; cmdline: $(cat "$work/artifacts/cmdline")"
else
  # The report names the UKI by its path in the guest (<ESP mount point>/EFI/...).
  uki_path=$(report_field 'd["boot"]["uki"]["path"]')
  uki_in_esp=/EFI/${uki_path#*/EFI/}
  uki_stub=$(report_field 'd["boot"]["uki"]["stub"]')
  echo "UKI $uki_in_esp on the ESP: $uki_stub, kernel $kver; cmdline: $(report_field 'd["boot"]["uki"]["cmdline"]')"
fi
# shellcheck source=../fixtures/accel.sh
. "$here/../fixtures/accel.sh"
eval "$(guestfish --listen --ro -a "$image")"
gf() { guestfish --remote -- "$@"; }
[ -z "${CVM_APPLIANCE_CPU:-}" ] || gf config -cpu "$CVM_APPLIANCE_CPU"
gf run
esp="" bootfs=""
while IFS=': ' read -r dev fstype; do
  case "$fstype" in
    vfat) [ -n "$esp" ] || esp=$dev ;;
    ext4) if [ "$mode" = grub ] && [ -z "$bootfs" ]; then
            gf mount-ro "$dev" /
            if [ "$(gf is-file "${kpath#/boot}")" = true ]; then bootfs=$dev; fi
            gf umount /
          fi ;;
  esac
done < <(gf list-filesystems)
[ -n "$esp" ] || { echo "FAIL: no ESP in $image"; exit 1; }
if [ "$mode" = grub ] && [ -z "$bootfs" ]; then echo "FAIL: no /boot filesystem holding $kpath"; exit 1; fi
gf mount-ro "$esp" /
if [ "$mode" = grub ]; then
  for f in BOOTX64.EFI grubx64.efi fbx64.efi shimx64.efi; do
    if [ "$(gf is-file "/EFI/BOOT/$f")" = true ]; then gf download "/EFI/BOOT/$f" "$work/artifacts/$f"; fi
  done
  gf umount /
  gf mount-ro "$bootfs" /
  gf download "${kpath#/boot}" "$work/artifacts/vmlinuz"
  gf download "${ipath#/boot}" "$work/artifacts/initrd.img"
else
  [ "$(gf is-file "$uki_in_esp")" = true ] || { echo "FAIL: $uki_in_esp is not on the ESP"; exit 1; }
  gf download "$uki_in_esp" "$work/artifacts/uki.efi"
fi
gf exit
unset GUESTFISH_PID
qemu-img dd -f qcow2 -O raw bs=512 count=34 if="$image" of="$work/artifacts/disk-head.bin"
# The files must be the ones the build measured.
if [ "$mode" = grub ]; then
  checks="boot_artifacts.kernel:vmlinuz boot_artifacts.initrd:initrd.img"
else
  checks="boot.uki:uki.efi"
fi
for f in $checks; do
  key=${f%%:*}
  want=$(report_field "d['${key%%.*}']['${key#*.}']['sha256']")
  got=$(sha256sum "$work/artifacts/${f#*:}" | cut -d' ' -f1)
  [ "$want" = "$got" ] || { echo "FAIL: ${f#*:} sha256 $got differs from the build report's $want"; exit 1; }
done
find "$work/artifacts" -type f -printf '  %f %s bytes\n'

echo "== prediction (cvmforge measure --boot $mode)"
qemu_version=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
# The host's OVMF (Debian 12: edk2 2022.11) measures into the TPM; its TDX
# build would not measure at all (< edk2-stable202302: the model predicts no
# event then), so the prediction is made for an edk2 with RTMR measurement.
# The image-layer events do not depend on the edk2 version in grub or UKI
# boot: GPT and every LoadImage'd PE go through the same handler on both
# paths (SecurityPkg DxeTpm2MeasureBootLib, TCG2 and CC protocol since
# edk2-stable202202, commit a124cd4ef9).
# cvmforge knows Debian 12's OVMF.fd by its bytes as edk2-stable202211
# (measurement/firmware_db.cpp) and refuses another --ovmf-version for it.
# The file only feeds MRTD and RTMR0 here, which the oracle does not compare,
# so the prediction reads a copy with one byte of its variable-store template
# (CFV, offset 0x1ffff) inverted: the same TDVF layout, a build the model
# does not know by its digest.
fw=$work/tdvf-for-prediction.fd
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[0x1ffff] ^= 0xff; open(sys.argv[2], "wb").write(b)' \
  "$tdvf" "$fw"
if [ "$mode" = grub ]; then
  inputs=(--boot grub --artifacts "$work/artifacts")
else
  inputs=(--boot uki --uki "$work/artifacts/uki.efi" --disk-head "$work/artifacts/disk-head.bin")
fi
"$cvmforge" measure "${inputs[@]}" --firmware "$fw" \
  --memory "$mem" --qemu-version "$qemu_version" --ovmf-version edk2-stable202411 \
  --format json -o "$work/prediction.json"
"$cvmforge" measure "${inputs[@]}" --firmware "$fw" \
  --memory "$mem" --qemu-version "$qemu_version" --ovmf-version edk2-stable202411 \
  --format text -o "$work/prediction.txt"
if [ "$mode" = uki ]; then
  # The UKI's digest in RTMR1 is the one the build reported.
  want=$(report_field 'd["boot"]["uki"]["authenticode_sha384"]')
  got=$(python3 -c 'import json,sys; print(next(e["digest"] for e in json.load(open(sys.argv[1]))["events"] if e["label"] == "uki"))' "$work/prediction.json")
  [ "$want" = "$got" ] || { echo "FAIL: predicted UKI digest $got differs from the build report's $want"; exit 1; }
fi

echo "== software TPM (SHA-256 + SHA-384 banks)"
swtpm_setup --tpm2 --tpmstate "$work/tpm" --pcr-banks sha256,sha384 --overwrite >"$work/swtpm_setup.log" 2>&1 ||
  { cat "$work/swtpm_setup.log"; echo "FAIL: swtpm_setup"; exit 1; }
sock=$work/swtpm.sock
swtpm socket --tpm2 --tpmstate dir="$work/tpm" --ctrl type=unixio,path="$sock" \
  --log file="$work/swtpm.log" --pid file="$work/swtpm.pid" --daemon
for _ in $(seq 50); do [ -S "$sock" ] && [ -s "$work/swtpm.pid" ] && break; sleep 0.1; done
swtpm_pid=$(cat "$work/swtpm.pid")

echo "== boot with the TPM, unlock with the recovery passphrase, read the event log"
log=/sys/kernel/security/tpm0/binary_bios_measurements
# (boot-test itself avoids QEMU 7.2's TCG CMPXCHG16B bug: -cpu max,cx16=off.)
"$boot" "$image" --mem "$mem" --log "$dir/console-tpm-oracle.log" \
  --qemu-arg -chardev --qemu-arg "socket,id=chrtpm,path=$sock" \
  --qemu-arg -tpmdev --qemu-arg emulator,id=tpm0,chardev=chrtpm \
  --qemu-arg -device --qemu-arg tpm-crb,tpmdev=tpm0 \
  --expect "$prompt" --send-secret "$pass" \
  --login \
  --run 'dmesg -n 1; mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security' \
  --run "test -r $log" \
  --run "echo ==TPM''LOG==; cat $log | gzip -9 | base64 -w 76; echo ==TPM''END==; sha256sum $log" \
  --save-output "$work/console-capture.txt"
python3 - "$work/console-capture.txt" "$work/tpm-event-log.bin" "$log" <<'EOF'
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

echo "== image layer: predicted vs. measured"
echo "(platform layer not part of the oracle: RTMR0 - ACPI tables, UEFI variables, boot options -"
echo " and PCR 0 come from a VM with a software TPM, different hardware from a TD)"
rc=0
"$cvmforge" measure replay --tpm-log "$work/tpm-event-log.bin" --expected "$work/prediction.json" \
  --format text -o "$work/oracle.txt" || rc=$?
"$cvmforge" --json measure replay --tpm-log "$work/tpm-event-log.bin" --expected "$work/prediction.json" \
  -o "$work/oracle.json" >/dev/null 2>&1 || true
sed -n '/^image layer, event by event:/,$p' "$work/oracle.txt"
if [ "$rc" -ne 0 ]; then
  echo "FAIL: the firmware measured something else than predicted (exit $rc); see $work/oracle.txt"
  exit 1
fi
if [ "$mode" = grub ]; then
  # The oracle must have compared something: the kernel, and with Linux >=
  # 6.9 the kernel stub's initrd event.
  grep -qE '^ +1 +4 +kernel +.* match ' "$work/oracle.txt" ||
    { echo "FAIL: the kernel event was not compared"; exit 1; }
  if [ "$(printf '%s\n' 6.9 "$kver" | sort -V | head -n1)" = 6.9 ]; then
    grep -qE '^ +2 +9 +linux\.initrd +.* match ' "$work/oracle.txt" ||
      { echo "FAIL: the initrd event was not compared"; exit 1; }
  fi
else
  # The UKI itself must have been compared, and nothing the log has may be
  # left unexplained: a LoadImage of the embedded kernel, for instance, is a
  # firmware event a TD has too.
  grep -qE '^ +1 +4 +uki +.* match ' "$work/oracle.txt" ||
    { echo "FAIL: the UKI event was not compared"; exit 1; }
  echo "== log-only image-layer events: each must be a TPM-only measurement of this UKI"
  python3 "$here/tpm_oracle_uki.py" "$work/oracle.json" "$work/artifacts/uki.efi" "$uki_stub" "$kver" ||
    { echo "FAIL: the log has image-layer events the model neither predicts nor can rule out for a TD"; exit 1; }
fi
echo "tpm_oracle: 1 passed, 0 failed"
