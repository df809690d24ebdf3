#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Attested unlock end to end, under QEMU TCG without TDX: build an image of the base
# (a Debian fixture) with the test flavour of the agent (INSECURE-TEST: sample
# evidence), serve its key over HTTPS with tests/kbs/kbs_broker.py on
# 127.0.0.1 and a throw-away PKI whose CA the image trusts, boot it with
# restrict=on user networking plus a guestfwd of 10.0.2.100:8443 to the
# broker, and reach multi-user with the root on the LUKS2 mapping. Negative
# runs (policy deny, tampered JWE, a broker certificate from another CA,
# broker down, swapped LUKS2 header, the agent killed right after the key was
# released) must power off within a bounded time, with no shell prompt and no
# key bytes on the console.
#
# usage: attested_unlock.sh WORK_DIR CVMFORGE AGENT_BUNDLE_DIR BASE_QCOW2 [CASE...]
# CASE: ok deny tampered_jwe wrong_ca broker_down swapped_header agent_killed
#       (default: all)
set -euo pipefail
work=${1:?work dir}
cvmforge=${2:?cvmforge binary}
agent_dir=${3:?agent bundle dir (holding cvmforge-agent-test/)}
base=${4:?base image (a Debian fixture)}
shift 4
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(ok deny tampered_jwe wrong_ca broker_down swapped_header agent_killed)

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
boot=$src/tests/fixtures/boot-test
broker=$src/tests/kbs/kbs_broker.py
relay=$here/tcp_relay.py
py=${CVM_PYTHON:-python3}
# The boot path the image is built for: a unified kernel image by default
# (the path that binds the key on every Debian kernel); CVM_E2E_BOOT_MODE=grub
# for the GRUB path.
boot_mode=${CVM_E2E_BOOT_MODE:-uki}
[ -f "$base" ] || { echo "SKIP: base image $base missing"; exit 77; }
# KVM or TCG for guestfish below (and LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# where /dev/kvm exists but hangs nested guests).
# shellcheck source=../fixtures/accel.sh
. "$src/tests/fixtures/accel.sh"
"$py" -c 'import cryptography' 2>/dev/null || { echo "SKIP: python3-cryptography missing"; exit 77; }

mkdir -p "$work/out"
# The manifest: manifests/examples/test-sample-attestation.yaml, but over
# HTTPS with the test PKI's CA baked into the initramfs. The PKI lives with
# the image it was built into.
image=$work/out/e2e-attested.qcow2
if [ -f "$image.report.json" ] && ! grep -q "\"mode\": \"$boot_mode\"" "$image.report.json"; then
  rm -f "$image" # built for another boot path
fi
if [ ! -f "$image" ] || [ "${CVM_E2E_REBUILD:-0}" = 1 ]; then
  echo "== build (INSECURE-TEST sample flavour, https)"
  rm -rf "$work"/out/e2e-attested.* "$work/pki" "$work/swapped.qcow2" "$work/killed.qcow2"
  "$py" "$src/tests/kbs/make_test_pki.py" --dir "$work/pki" --san-ip 10.0.2.100
  cat >"$work/manifest.yaml" <<EOF_MANIFEST
# Written by tests/e2e/attested_unlock.sh. INSECURE-TEST: sample evidence.
version: 1
name: e2e-attested
base:
  path: $(readlink -f "$base")
output:
  path: out/e2e-attested.qcow2
luks:
  recovery:
    enabled: true
attestation:
  kbs_urls: ["https://10.0.2.100:8443"]
  ca_cert: pki/ca.pem
  tee: sample
  resource_path: default/cvmforge/e2e-attested
  timeouts: {connect_s: 5, request_s: 10, total_s: 60}
  retries: {attempts: 3, backoff_initial_ms: 200, backoff_max_ms: 2000}
boot:
  mode: $boot_mode
  cmdline_add: [console=ttyS0]
EOF_MANIFEST
  CVMFORGE_AGENT_DIR=$agent_dir "$cvmforge" build "$work/manifest.yaml"
fi
report=$image.report.json
key_file=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"]["kbs"]["key_file"])' "$report")
resource=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"]["kbs"]["resource_path"])' "$report")
grep -q INSECURE-TEST "$report" || { echo "FAIL: report does not say INSECURE-TEST"; exit 1; }
# The report says whether the agent can extend RTMR3 after the release: the
# fixtures' kernels (5.10, 6.1, 6.12) predate Linux 6.16.
barrier=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"].get("rtmr3_release_barrier", "missing"))' "$report")
[ "$barrier" = "unavailable (Linux < 6.16)" ] || { echo "FAIL: report's rtmr3_release_barrier is '$barrier'"; exit 1; }
key_hex=$(od -An -tx1 -v "$key_file" | tr -d ' \n')

broker_pid=""
stop_broker() { if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; broker_pid=""; fi; }
trap stop_broker EXIT
start_broker() { # [--pki DIR] extra broker args...
  local out=$work/broker.out pki=$work/pki
  if [ "${1:-}" = --pki ]; then pki=$2; shift 2; fi
  : >"$out"
  "$py" "$broker" serve --port 0 --resource-file "$key_file" --resource-path "$resource" \
    --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" "$@" >"$out" 2>"$work/broker.err" &
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
  printf '%s\n' --qemu-arg -set --qemu-arg "netdev.n0.guestfwd=tcp:10.0.2.100:8443-cmd:$py $relay 127.0.0.1 $1"
}

# The kernel's own power-off message, not just our script's line.
powered_off='(reboot: Power down|sysrq: Power Off|Reached target.*Power-Off)'
failed=0
skipped=0
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
    deny|tampered_jwe|wrong_ca|broker_down|swapped_header|agent_killed)
      local boot_image=$image
      case "$name" in
        deny) start_broker --policy deny ;;
        tampered_jwe) start_broker --fault tampered-jwe ;;
        wrong_ca) # a valid certificate for the right names, from a CA the image does not trust
          "$py" "$src/tests/kbs/make_test_pki.py" --dir "$work/pki-other" --san-ip 10.0.2.100
          start_broker --pki "$work/pki-other" ;;
        broker_down) start_broker; stop_broker ;; # port now refuses connections
        swapped_header|agent_killed)
          # Both edit a copy of the image with guestfish (libguestfs-tools).
          if ! command -v guestfish >/dev/null; then
            echo "SKIP: $name needs guestfish"; skipped=$((skipped + 1)); return 0
          fi
          start_broker
          if [ "$name" = swapped_header ]; then
            boot_image=$work/swapped.qcow2
            swap_header "$boot_image"
          else # the broker releases the key; the agent dies before handing it over
            boot_image=$work/killed.qcow2
            fault_image "$boot_image" key-received:kill
          fi ;;
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
  # Made under a temporary name: a half-made copy must not be reused.
  local partial=$out.partial
  rm -f "$partial"
  qemu-img create -f qcow2 -b "$image" -F qcow2 "$partial" >/dev/null
  local uuid
  uuid=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["luks"]["uuid"])' "$report")
  # The attacker's header: same UUID, another key (their own passphrase).
  truncate -s 32M "$raw"
  printf 'attacker' | cryptsetup luksFormat --batch-mode --type luks2 --uuid "$uuid" --pbkdf pbkdf2 \
    --pbkdf-force-iterations 1000 --key-file=- --header "$hdr" "$raw" >/dev/null
  local part
  # create-output lists esp, boot, root: the root (LUKS2) partition is last.
  part=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["partitions"][-1]["number"])' "$report")
  local cpu=()
  [ -z "${CVM_APPLIANCE_CPU:-}" ] || cpu=(config -cpu "$CVM_APPLIANCE_CPU" :)
  guestfish -a "$partial" -- "${cpu[@]}" run : upload "$hdr" "/dev/sda$part" >/dev/null
  mv "$partial" "$out"
  rm -f "$raw"
}

# A copy of the image whose kernel command line carries
# cvmforge.test_fault=STAGE:SIGNAL (the test flavour of the agent then dies by
# SIGNAL at STAGE), edited where a host can edit it: grub.cfg on the
# unencrypted /boot (grub), or the UKI on the unencrypted ESP (uki; in a TD
# that changes RTMR1, which a real verifier refuses; sample evidence does not
# notice, which is what lets the test reach the fault).
fault_image() { # out fault
  local out=$1 fault=$2
  [ -f "$out" ] && return 0
  local partial=$out.partial cfg=$work/grub.cfg uki=$work/uki.efi
  rm -f "$partial" "$cfg" "$uki"
  qemu-img create -f qcow2 -b "$image" -F qcow2 "$partial" >/dev/null
  local mode part
  mode=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot"]["mode"])' "$report")
  # A guestfish script: its "!" line (not available on the command line) runs
  # the edit on this host, between download and upload.
  local cpu_line=""
  [ -z "${CVM_APPLIANCE_CPU:-}" ] || cpu_line="config -cpu $CVM_APPLIANCE_CPU"
  if [ "$mode" = uki ]; then
    part=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print([p["number"] for p in r["partitions"] if p["type_guid"].upper() == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"][0])' "$report")
    guestfish -a "$partial" >/dev/null <<EOF_FISH
$cpu_line
run
mount /dev/sda$part /
download /EFI/BOOT/BOOTX64.EFI "$uki"
! "$py" "$src/tests/e2e/uki_cmdline.py" "$uki" --append "cvmforge.test_fault=$fault" >"$work/uki-cmdline.txt"
upload "$uki" /EFI/BOOT/BOOTX64.EFI
EOF_FISH
    grep -q " cvmforge.test_fault=$fault\$" "$work/uki-cmdline.txt" ||
      { echo "FAIL: could not add cvmforge.test_fault to the UKI's .cmdline"; exit 1; }
  else
    part=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print([p["number"] for p in r["partitions"] if p["name"] == "boot"][0])' "$report")
    guestfish -a "$partial" >/dev/null <<EOF_FISH
$cpu_line
run
mount /dev/sda$part /
download /grub/grub.cfg "$cfg"
! sed -i -E 's|^([[:space:]]*linux[[:space:]].*)\$|\\1 cvmforge.test_fault=$fault|' "$cfg"
upload "$cfg" /grub/grub.cfg
EOF_FISH
    grep -Eq "^[[:space:]]*linux[[:space:]].* cvmforge.test_fault=$fault\$" "$cfg" ||
      { echo "FAIL: could not add cvmforge.test_fault to grub.cfg"; exit 1; }
  fi
  mv "$partial" "$out"
  rm -f "$cfg" "$uki"
}

for c in "${cases[@]}"; do run_case "$c"; done
echo "attested_unlock: ${#cases[@]} cases, $failed failures, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
# A skipped negative case is not a pass: ctest reports the test as skipped.
[ "$skipped" -eq 0 ] || exit 77
