#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Boot a cvmforge-built image in QEMU (OVMF) and unlock its root with the
# recovery passphrase typed at the serial console, through the distribution's
# own cryptsetup path; reach multi-user and check that root is the LUKS2
# mapping. With --wrong-passphrase instead: type wrong passphrases; the guest
# must stop without ever offering a shell.
set -euo pipefail
dir=${1:?usage: recovery_unlock.sh BUILD_DIR [--wrong-passphrase] (BUILD_DIR holds out/cvm.qcow2 and recovery.txt)}
mode=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
boot=$here/../fixtures/boot-test
image=$dir/out/cvm.qcow2
pass=$(head -n1 "$dir/recovery.txt")
prompt='(Please unlock disk cvmroot|Please enter passphrase for disk)'
# The fail-closed flags the build must have put on the command line.
generator=$("${CVM_PYTHON:-python3}" -c 'import json,sys; print(json.load(open(sys.argv[1]))["base"]["initramfs"]["generator"])' \
  "$image.report.json")
case "$generator" in
  dracut) fail_closed='rd\.shell=0 .*rd\.emergency=poweroff' ;;
  *) fail_closed='panic=-1' ;;
esac

if [ "$mode" != --wrong-passphrase ]; then
echo "== unlock with the recovery passphrase, log in, check the root mapping"
"$boot" "$image" --log "$dir/console-unlock.log" \
  --expect "$prompt" --send-secret "$pass" \
  --login --run 'findmnt -no SOURCE /' --expect-output '/dev/mapper/cvmroot' \
  --run 'cat /proc/cmdline' --expect-output "$fail_closed"
echo "recovery_unlock: 1 passed, 0 failed"
exit 0
fi

echo "== a wrong passphrase never gives a shell"
# cryptsetup asks again; after the retries the initramfs panics (panic=-1)
# or dracut powers off. boot-test's default failure patterns fail the test if
# any shell prompt appears.
set +e
"$boot" "$image" --log "$dir/console-wrong.log" --timeout 600 \
  --expect "$prompt" --send 'wrong passphrase' \
  --expect "$prompt" --send 'wrong passphrase' \
  --expect "$prompt" --send 'wrong passphrase' \
  --expect '(Rebooting automatically|Reached target.*Power-Off|reboot: |Power down|System halted|poweroff)'
rc=$?
set -e
if grep -aE '(\(initramfs\)|emergency mode|Give root password|login:)' "$dir/console-wrong.log"; then
  echo "FAIL: a shell or login prompt appeared after a wrong passphrase"; exit 1
fi
[ "$rc" -eq 0 ] || { echo "FAIL: the guest did not stop after wrong passphrases (boot-test exit $rc)"; exit 1; }
echo "wrong_passphrase: 1 passed, 0 failed"
