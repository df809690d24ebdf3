#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attested unlock end to end (key-release.md T2): build a Debian 12 image from
# manifests/examples/test-sample-attestation.yaml (INSECURE-TEST: sample
# evidence, plain http), serve its key with tests/kbs/kbs_broker.py on
# 127.0.0.1, boot it with restrict=on user networking plus a guestfwd of
# 10.0.2.100:8080 to the broker, and reach multi-user with the root on the
# LUKS2 mapping. Negative runs (policy deny, tampered JWE, broker down,
# swapped LUKS2 header) must power off within a bounded time, with no shell
# prompt and no key bytes on the console.
#
# usage: attested_unlock.sh WORK_DIR CVMFORGE AGENT_BUNDLE_DIR BASE_QCOW2 [CASE...]
# CASE: ok deny tampered_jwe broker_down swapped_header (default: all)
set -euo pipefail
work=${1:?work dir}
cvmforge=${2:?cvmforge binary}
agent_dir=${3:?agent bundle dir (holding cvmforge-agent-test/)}
base=${4:?base image (Debian 12 fixture)}
shift 4
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(ok deny tampered_jwe broker_down swapped_header)

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
boot=$src/tests/fixtures/boot-test
broker=$src/tests/kbs/kbs_broker.py
relay=$here/tcp_relay.py
py=${CVM_PYTHON:-python3}
[ -f "$base" ] || { echo "SKIP: base image $base missing"; exit 77; }
# KVM or TCG for guestfish below (and LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# where /dev/kvm exists but hangs nested guests).
# shellcheck source=../fixtures/accel.sh
. "$src/tests/fixtures/accel.sh"
"$py" -c 'import cryptography' 2>/dev/null || { echo "SKIP: python3-cryptography missing"; exit 77; }

mkdir -p "$work/images" "$work/out"
ln -sf "$(readlink -f "$base")" "$work/images/debian-12-base.qcow2"
image=$work/out/test-sample.qcow2
if [ ! -f "$image" ] || [ "${CVM_E2E_REBUILD:-0}" = 1 ]; then
  echo "== build (INSECURE-TEST sample flavour)"
  rm -f "$work"/out/test-sample.*
  CVM_IMAGES=$work/images CVM_OUT=$work/out CVMFORGE_AGENT_DIR=$agent_dir \
    "$cvmforge" build "$src/manifests/examples/test-sample-attestation.yaml"
fi
report=$(ls "$work"/out/test-sample*report.json | head -n1)
key_file=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"]["kbs"]["key_file"])' "$report")
resource=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"]["kbs"]["resource_path"])' "$report")
grep -q INSECURE-TEST "$report" || { echo "FAIL: report does not say INSECURE-TEST"; exit 1; }
key_hex=$(od -An -tx1 -v "$key_file" | tr -d ' \n')

broker_pid=""
stop_broker() { if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; broker_pid=""; fi; }
trap stop_broker EXIT
start_broker() { # extra broker args...
  local out=$work/broker.out
  : >"$out"
  "$py" "$broker" serve --port 0 --resource-file "$key_file" --resource-path "$resource" "$@" >"$out" 2>"$work/broker.err" &
  broker_pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/^LISTENING \([0-9]*\)$/\1/p' "$out")
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "FAIL: broker did not start"; cat "$work/broker.err"; exit 1
}

no_key_on_console() { # log
  local log=$1 b64
  b64=$("$py" -c 'import base64,sys; print(base64.b64encode(open(sys.argv[1],"rb").read()).decode())' "$key_file")
  if grep -aqi -e "$key_hex" -e "$b64" "$log"; then
    echo "FAIL: key bytes on the console ($log)"; return 1
  fi
}

no_shell() { # log
  if grep -aE '(\(initramfs\)|emergency mode|Give root password|login:|sh: can.t access tty)' "$1"; then
    echo "FAIL: a shell or login prompt appeared ($1)"; return 1
  fi
}

fwd() { # port -> qemu args adding the guestfwd to boot-test's netdev n0
  printf '%s\n' --qemu-arg -set --qemu-arg "netdev.n0.guestfwd=tcp:10.0.2.100:8080-cmd:$py $relay 127.0.0.1 $1"
}

# The kernel's own power-off message, not just our script's line.
powered_off='(reboot: Power down|sysrq: Power Off|Reached target.*Power-Off)'
failed=0
run_case() {
  local name=$1 log=$work/console-$1.log
  shift
  echo "== $name"
  case "$name" in
    ok)
      start_broker
      mapfile -t q < <(fwd "$port")
      if ! "$boot" "$image" --log "$log" --timeout 1500 "${q[@]}" \
          --expect 'cvmforge: root unlocked after attestation' \
          --login --run 'findmnt -no SOURCE /' --expect-output '/dev/mapper/cvmroot' \
          --run 'cat /etc/cvmforge/INSECURE-TEST' --expect-output 'INSECURE-TEST' \
          --run 'test ! -e /run/cvmforge/header.luks2 || stat -c %a /run/cvmforge/header.luks2' ; then
        echo "FAIL: $name"; failed=$((failed + 1))
      fi
      stop_broker ;;
    deny|tampered_jwe|broker_down|swapped_header)
      local boot_image=$image
      case "$name" in
        deny) start_broker --policy deny ;;
        tampered_jwe) start_broker --fault tampered-jwe ;;
        broker_down) start_broker; stop_broker ;; # port now refuses connections
        swapped_header)
          start_broker
          boot_image=$work/swapped.qcow2
          swap_header "$boot_image" ;;
      esac
      mapfile -t q < <(fwd "$port")
      local t0=$SECONDS rc=0
      "$boot" "$boot_image" --log "$log" --timeout 900 "${q[@]}" --expect "$powered_off" || rc=$?
      # QEMU must actually exit (-no-reboot): boot-test returns after the
      # match; the whole run is bounded by --timeout.
      if [ "$rc" -ne 0 ]; then echo "FAIL: $name did not power off (boot-test $rc)"; failed=$((failed + 1)); fi
      no_shell "$log" || failed=$((failed + 1))
      grep -aq 'cvmforge: .*powering off' "$log" || { echo "FAIL: $name: no one-line reason"; failed=$((failed + 1)); }
      echo "   stopped after $((SECONDS - t0)) s"
      stop_broker ;;
    *) echo "unknown case $name"; exit 2 ;;
  esac
  no_key_on_console "$log" || failed=$((failed + 1))
}

# A copy of the image whose LUKS2 header is a freshly formatted one for
# another volume key (same UUID): the agent must refuse it before any key
# request.
swap_header() { # out
  local out=$1 raw=$work/swap.raw hdr=$work/other.hdr
  [ -f "$out" ] && return 0
  command -v guestfish >/dev/null || { echo "SKIP: swapped_header needs guestfish"; return 0; }
  qemu-img create -f qcow2 -b "$image" -F qcow2 "$out" >/dev/null
  local uuid
  uuid=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["luks"]["uuid"])' "$report")
  # The attacker's header: same UUID, another key (their own passphrase).
  truncate -s 32M "$raw"
  printf 'attacker' | cryptsetup luksFormat --batch-mode --type luks2 --uuid "$uuid" --pbkdf pbkdf2 \
    --pbkdf-force-iterations 1000 --key-file=- --header "$hdr" "$raw" >/dev/null
  local part
  # create-output lists esp, boot, root: the root (LUKS2) partition is last.
  part=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["partitions"][-1]["number"])' "$report")
  guestfish -a "$out" run : upload "$hdr" "/dev/sda$part" >/dev/null
  rm -f "$raw"
}

for c in "${cases[@]}"; do run_case "$c"; done
echo "attested_unlock: ${#cases[@]} cases, $failed failures"
[ "$failed" -eq 0 ]
