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
# The same boot is the recovery-unlock check of recovery_unlock.sh (root on
# the LUKS2 mapping, the fail-closed command line), so an image that the
# oracle boots needs no second boot for it (tests/e2e/CMakeLists.txt). Without
# swtpm the image is still booted and unlocked, and the test reports the
# oracle as skipped.
#
# Usage: tpm_oracle.sh BUILD_DIR CVMFORGE
#   BUILD_DIR holds out/cvm.qcow2, out/cvm.qcow2.report.json and recovery.txt
#   (the build.<flavour> fixture). Exit 0 pass, 1 fail, 77 skipped.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
dir=${1:?usage: tpm_oracle.sh BUILD_DIR CVMFORGE}
# shellcheck disable=SC2034 # used by tpm_lib.sh
cvmforge=${2:?usage: tpm_oracle.sh BUILD_DIR CVMFORGE}
# Absolute paths: swtpm --daemon changes to / before it opens its state.
dir=$(cd "$dir" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
boot=$here/../fixtures/boot-test
image=$dir/out/cvm.qcow2
report=$dir/out/cvm.qcow2.report.json
pass=$(head -n1 "$dir/recovery.txt")
prompt='(Please unlock disk cvmroot|Please enter passphrase for disk)'
# The prediction reads the unified OVMF image (CVM_TDVF, tpm_lib.sh); the
# boot itself uses boot-test's OVMF_CODE_4M.fd, which has TPM 2.0 support.
mem=1024

skip() { echo "skipped: $*"; exit 77; }
. "$here/tpm_lib.sh"
if [ ! -r "$image" ] || [ ! -r "$report" ]; then
  echo "FAIL: no built image in $dir (run build.<flavour> first)"; exit 1
fi
# The fail-closed flags the build must have put on the command line.
generator=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["base"]["initramfs"]["generator"])' "$report")
case "$generator" in
  dracut) fail_closed='rd\.shell=0 .*rd\.emergency=poweroff' ;;
  *) fail_closed='panic=-1' ;;
esac
recovery_checks=(--expect "$prompt" --send-secret "$pass" --login
  --run 'findmnt -no SOURCE /' --expect-output '/dev/mapper/cvmroot'
  --run 'cat /proc/cmdline' --expect-output "$fail_closed")
missing=$(tpm_missing)
if [ -z "$missing" ] && ! command -v guestfish >/dev/null 2>&1; then missing="'guestfish' not found (Debian package libguestfs-tools)"; fi
if [ -n "$missing" ]; then
  echo "== no oracle here ($missing): recovery unlock only"
  "$boot" "$image" --mem "$mem" --log "$dir/console-tpm-oracle.log" "${recovery_checks[@]}"
  skip "oracle: $missing (the recovery unlock passed)"
fi

work=$dir/tpm-oracle
rm -rf "$work"
mkdir -p "$work/artifacts"
cleanup() {
  tpm_stop_all
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
if [ "$mode" = grub ]; then
  inputs=(--boot grub --artifacts "$work/artifacts")
else
  inputs=(--boot uki --uki "$work/artifacts/uki.efi" --disk-head "$work/artifacts/disk-head.bin")
fi
tpm_predict "$work/prediction" "$mem" "${inputs[@]}"
if [ "$mode" = uki ]; then
  # The UKI's digest in RTMR1 is the one the build reported.
  want=$(report_field 'd["boot"]["uki"]["authenticode_sha384"]')
  got=$(python3 -c 'import json,sys; print(next(e["digest"] for e in json.load(open(sys.argv[1]))["events"] if e["label"] == "uki"))' "$work/prediction.json")
  [ "$want" = "$got" ] || { echo "FAIL: predicted UKI digest $got differs from the build report's $want"; exit 1; }
fi

echo "== software TPM (SHA-256 + SHA-384 banks)"
tpm_start "$work/tpm"

echo "== boot with the TPM, unlock with the recovery passphrase, check the root, read the event log"
mapfile -t dump < <(tpm_dump_args "$work/console-capture.txt")
# (boot-test itself avoids QEMU 7.2's TCG CMPXCHG16B bug: -cpu max,cx16=off.)
"$boot" "$image" --mem "$mem" --log "$dir/console-tpm-oracle.log" "${tpm_qemu_args[@]}" \
  "${recovery_checks[@]}" "${dump[@]}"
tpm_extract "$work/console-capture.txt" "$work/tpm-event-log.bin"

echo "== image layer: predicted vs. measured"
echo "(platform layer not part of the oracle: RTMR0 - ACPI tables, UEFI variables, boot options -"
echo " and PCR 0 come from a VM with a software TPM, different hardware from a TD)"
tpm_compare "$work/tpm-event-log.bin" "$work/prediction.json" "$work/oracle" || exit 1
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
  tpm_check_uki "$work/oracle" "$work/artifacts/uki.efi" "$uki_stub" "$kver" || exit 1
fi
echo "tpm_oracle: 1 passed, 0 failed"
