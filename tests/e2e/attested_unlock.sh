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
# With a software TPM (swtpm) and a UKI image, two cases are also the boot
# oracle (tpm_lib.sh): `ok` boots with the TPM and checks the firmware's event
# log against `cvmforge measure`'s prediction for this image, event by event;
# `onebyte` is the binding test (issue 15): a copy of the image whose UKI has
# one byte of the agent's configuration changed inside its initramfs and one
# more kernel parameter. Its predicted RTMR1 must differ from the image's, the
# firmware must measure exactly the new prediction, and the Debian GRUB path
# with the same two changes must predict the same registers as without them
# (nothing binds initrd and command line there: the verdict's "unbound").
#
# usage: attested_unlock.sh WORK_DIR CVMFORGE AGENT_BUNDLE_DIR BASE_QCOW2 [CASE...]
# CASE: ok deny tampered_jwe wrong_ca broker_down swapped_header agent_killed
#       onebyte volume_deny volume_missing volume_optional (default: all)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
work=${1:?work dir}
cvmforge=${2:?cvmforge binary}
agent_dir=${3:?agent bundle dir (holding cvmforge-agent-test/)}
base=${4:?base image (a Debian fixture)}
shift 4
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(ok deny tampered_jwe wrong_ca broker_down swapped_header agent_killed onebyte
  volume_deny volume_missing volume_optional)

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
. "$here/tpm_lib.sh"
# Empty: ok and onebyte run the boot oracle.
no_oracle=$(tpm_missing)
[ -n "$no_oracle" ] || command -v guestfish >/dev/null 2>&1 || no_oracle="'guestfish' not found (Debian package libguestfs-tools)"
[ "$boot_mode" = uki ] || no_oracle=${no_oracle:-"boot.mode $boot_mode: the oracle cases edit and check a UKI"}
# KVM or TCG for guestfish below (and LIBGUESTFS_BACKEND_SETTINGS=force_tcg
# where /dev/kvm exists but hangs nested guests).
. "$src/tests/fixtures/accel.sh"
"$py" -c 'import cryptography' 2>/dev/null || { echo "SKIP: python3-cryptography missing"; exit 77; }

mkdir -p "$work/out"
# The manifest: manifests/examples/test-sample-attestation.yaml, but over
# HTTPS with the test PKI's CA baked into the initramfs, and with two data
# volumes (issue 12): `data` (required, ext4, seeded from a host directory)
# and `cache` (optional, xfs). The PKI lives with the image it was built into;
# a changed manifest rebuilds the image.
image=$work/out/e2e-attested.qcow2
mkdir -p "$work/seed/sub"
printf 'cvmforge e2e volume seed\n' >"$work/seed/hello.txt"
printf 'nested\n' >"$work/seed/sub/nested.txt"
ln -sfn hello.txt "$work/seed/link"
cat >"$work/manifest.yaml.new" <<EOF_MANIFEST
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
volumes:
  - name: data
    mount: /srv/data
    size: 256M
    source: seed
    mount_options: [noatime]
  - name: cache
    mount: /srv/cache
    filesystem: xfs
    size: 320M
    required: false
EOF_MANIFEST
if ! cmp -s "$work/manifest.yaml.new" "$work/manifest.yaml"; then
  rm -f "$image" # built from another manifest (or another boot path)
fi
if [ ! -f "$image" ] || [ "${CVM_E2E_REBUILD:-0}" = 1 ]; then
  echo "== build (INSECURE-TEST sample flavour, https)"
  # Everything made from an earlier image goes with it (the boot oracle's
  # UKI and disk head were once reused for a rebuilt image).
  rm -rf "$work"/out/e2e-attested.* "$work/pki" "$work/swapped.qcow2" "$work/killed.qcow2" "$work/oracle" \
    "$work/onebyte.qcow2"
  "$py" "$src/tests/kbs/make_test_pki.py" --dir "$work/pki" --san-ip 10.0.2.100
  mv "$work/manifest.yaml.new" "$work/manifest.yaml"
  CVMFORGE_AGENT_DIR=$agent_dir "$cvmforge" build "$work/manifest.yaml"
  # inspect knows a data volume's disk (LUKS2 on the whole disk) for what it is.
  "$cvmforge" inspect "$work/out/e2e-attested.data.qcow2" >"$work/inspect-data.txt"
  grep -q '^Volume      cvmforge data volume "data"' "$work/inspect-data.txt" ||
    { echo "FAIL: inspect does not recognise the data volume"; cat "$work/inspect-data.txt"; exit 1; }
fi
rm -f "$work/manifest.yaml.new"
report=$image.report.json
key_file=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"]["kbs"]["key_file"])' "$report")
resource=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"]["kbs"]["resource_path"])' "$report")
grep -q INSECURE-TEST "$report" || { echo "FAIL: report does not say INSECURE-TEST"; exit 1; }
# The report says whether the agent can extend RTMR3 after the release: the
# fixtures' kernels (5.10, 6.1, 6.12) predate Linux 6.16.
barrier=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["attestation"].get("rtmr3_release_barrier", "missing"))' "$report")
[ "$barrier" = "unavailable (Linux < 6.16)" ] || { echo "FAIL: report's rtmr3_release_barrier is '$barrier'"; exit 1; }
# The data volumes, from the report: "name path key_file resource_path" lines.
mapfile -t volumes < <("$py" -c '
import json, sys
for v in json.load(open(sys.argv[1])).get("volumes", []):
    print(v["name"], v["path"], v["key_file"], v["resource_path"])' "$report")
[ ${#volumes[@]} -eq 2 ] || { echo "FAIL: the report lists ${#volumes[@]} volumes, expected 2"; exit 1; }
volume_field() { # name index(1 path, 2 key_file, 3 resource_path)
  local v f
  for v in "${volumes[@]}"; do
    read -r -a f <<<"$v"
    [ "${f[0]}" = "$1" ] && { echo "${f[$2]}"; return 0; }
  done
  echo "FAIL: no volume $1" >&2; return 1
}
# Every volume's disk attached as a virtio disk (boot-test's -snapshot covers them).
volume_disks=()
for v in "${volumes[@]}"; do
  read -r -a f <<<"$v"
  volume_disks+=(--qemu-arg -drive --qemu-arg "file=${f[1]},format=qcow2,if=virtio")
done

broker_pid=""
stop_broker() { if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; broker_pid=""; fi; }
trap 'stop_broker; tpm_stop_all' EXIT
start_broker() { # [--pki DIR] extra broker args...
  local out=$work/broker.out pki=$work/pki
  if [ "${1:-}" = --pki ]; then pki=$2; shift 2; fi
  : >"$out"
  local extra=() v f
  for v in "${volumes[@]}"; do
    read -r -a f <<<"$v"
    extra+=(--resource "${f[3]}=${f[2]}")
  done
  "$py" "$broker" serve --port 0 --resource-file "$key_file" --resource-path "$resource" "${extra[@]}" \
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
  local log=$1 b64 hex k v f
  for k in "$key_file" $(for v in "${volumes[@]}"; do read -r -a f <<<"$v"; echo "${f[2]}"; done); do
    hex=$(od -An -tx1 -v "$k" | tr -d ' \n')
    b64=$("$py" -c 'import base64,sys; print(base64.b64encode(open(sys.argv[1],"rb").read()).decode())' "$k")
    if grep -aqi -e "$hex" -e "$b64" "$log"; then
      echo "FAIL: key bytes of $k on the console ($log)"; return 1
    fi
  done
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
      local tpm=() dump=()
      if [ -z "$no_oracle" ]; then
        oracle_artifacts
        tpm_predict "$oracle/ok-prediction" 1024 --boot uki --uki "$oracle/uki.efi" --disk-head "$oracle/disk-head.bin"
        tpm_start "$oracle/tpm-ok"
        tpm=("${tpm_qemu_args[@]}")
        mapfile -t dump < <(tpm_dump_args "$oracle/ok-capture.txt")
      else
        echo "   (no boot oracle: $no_oracle)"
      fi
      start_broker
      mapfile -t q < <(fwd "$port")
      # shellcheck disable=SC2016 # the $(...) in --run runs in the guest
      if ! "$boot" "$image" --log "$log" --timeout 1500 "${q[@]}" "${volume_disks[@]}" "${tpm[@]}" \
          --expect 'cvmforge: root unlocked after attestation' \
          --login --run 'findmnt -no SOURCE /' --expect-output '/dev/mapper/cvmroot' \
          --run 'cat /etc/cvmforge/INSECURE-TEST' --expect-output 'INSECURE-TEST' \
          --run 'test ! -e /run/cvmforge/header.luks2 || stat -c %a /run/cvmforge/header.luks2' \
          --run 'findmnt -no SOURCE,FSTYPE,OPTIONS /srv/data' --expect-output '/dev/mapper/cvmvol-data +ext4 +[^ ]*noatime' \
          --run 'cat /srv/data/hello.txt /srv/data/sub/nested.txt; readlink /srv/data/link' \
          --expect-output 'cvmforge e2e volume seed.*nested.*hello.txt' \
          --run 'for i in $(seq 120); do findmnt -n /srv/cache >/dev/null && break; sleep 1; done; findmnt -no SOURCE,FSTYPE /srv/cache' \
          --expect-output '/dev/mapper/cvmvol-cache +xfs' \
          --run 'echo written >/srv/cache/w && cat /srv/cache/w' --expect-output 'written' \
          --run 'cryptsetup status cvmvol-data | grep -E "type|cipher"' --expect-output 'LUKS2' "${dump[@]}"; then
        echo "FAIL: $name"; failed=$((failed + 1))
      elif [ -z "$no_oracle" ]; then
        oracle_check ok "$oracle/uki.efi" || failed=$((failed + 1))
      fi
      tpm_stop_all
      stop_broker ;;
    volume_optional)
      # The KBS refuses the optional volume's key: the boot goes on without
      # it (one console line), the required one is mounted, and the agent
      # masked the optional one's mount unit for this boot (nothing waits).
      start_broker --deny-resource "$(volume_field cache 3)"
      mapfile -t q < <(fwd "$port")
      if ! "$boot" "$image" --log "$log" --timeout 1500 "${q[@]}" "${volume_disks[@]}" \
          --expect 'optional volume cache skipped' \
          --expect 'cvmforge: root unlocked after attestation' \
          --login --run 'findmnt -no SOURCE /srv/data' --expect-output '/dev/mapper/cvmvol-data' \
          --run 'findmnt -n /srv/cache || echo cache-not-mounted' --expect-output 'cache-not-mounted' \
          --run 'systemctl show -p LoadState --value srv-cache.mount' --expect-output 'masked'; then
        echo "FAIL: $name"; failed=$((failed + 1))
      fi
      stop_broker ;;
    onebyte)
      if [ -n "$no_oracle" ]; then
        echo "SKIP: $name: $no_oracle"; skipped=$((skipped + 1)); return 0
      fi
      onebyte || failed=$((failed + 1)) ;;
    deny|tampered_jwe|wrong_ca|broker_down|swapped_header|agent_killed|volume_deny|volume_missing)
      local boot_image=$image disks=("${volume_disks[@]}") reason='cvmforge: .*powering off'
      case "$name" in
        deny) start_broker --policy deny ;;
        volume_deny) # the required volume's key is refused: no boot, the root stays closed
          start_broker --deny-resource "$(volume_field data 3)"
          reason="KBS resource $(volume_field data 3): HTTP 401 PolicyDeny" ;;
        volume_missing) # the required volume's disk is not attached
          start_broker
          disks=()
          reason='volume data: device .* is not there' ;;
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
      "$boot" "$boot_image" --log "$log" --timeout 900 "${q[@]}" "${disks[@]}" --expect "$powered_off" || rc=$?
      # QEMU must actually exit (-no-reboot): boot-test returns after the
      # match; the whole run is bounded by --timeout.
      if [ "$rc" -ne 0 ]; then echo "FAIL: $name did not power off (boot-test $rc)"; failed=$((failed + 1)); fi
      no_shell "$log" || failed=$((failed + 1))
      grep -aq 'cvmforge: .*powering off' "$log" || { echo "FAIL: $name: no one-line reason"; failed=$((failed + 1)); }
      grep -aEq "$reason" "$log" || { echo "FAIL: $name: the console does not say why ($reason)"; failed=$((failed + 1)); }
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
! "$py" "$src/tests/e2e/uki_edit.py" "$uki" --append-cmdline "cvmforge.test_fault=$fault" >"$work/uki-cmdline.txt"
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

# The boot oracle's inputs, read from the image once: its UKI and the disk's
# first 34 sectors (the GPT event).
oracle=$work/oracle
oracle_artifacts() {
  [ -f "$oracle/uki.efi" ] && [ -f "$oracle/disk-head.bin" ] && return 0
  rm -rf "$oracle"
  mkdir -p "$oracle"
  local part cpu=()
  part=$(esp_partition)
  [ -z "${CVM_APPLIANCE_CPU:-}" ] || cpu=(config -cpu "$CVM_APPLIANCE_CPU" :)
  guestfish --ro -a "$image" -- "${cpu[@]}" run : mount-ro "/dev/sda$part" / : \
    download /EFI/BOOT/BOOTX64.EFI "$oracle/uki.efi.partial" >/dev/null
  qemu-img dd -f qcow2 -O raw bs=512 count=34 if="$image" of="$oracle/disk-head.bin"
  local want got
  want=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot"]["uki"]["sha256"])' "$report")
  got=$(sha256sum "$oracle/uki.efi.partial" | cut -d' ' -f1)
  [ "$want" = "$got" ] || { echo "FAIL: the ESP's UKI is not the one the build reported"; exit 1; }
  mv "$oracle/uki.efi.partial" "$oracle/uki.efi"
}

esp_partition() {
  "$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print([p["number"] for p in r["partitions"] if p["type_guid"].upper() == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"][0])' "$report"
}

# oracle_check NAME UKI: the event log of boot NAME against its prediction.
oracle_check() {
  local name=$1 uki=$2 stub kver
  stub=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot"]["uki"]["stub"])' "$report")
  kver=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot_artifacts"]["kernel_version"])' "$report")
  echo "   boot oracle ($name): image layer, predicted vs. measured"
  tpm_extract "$oracle/$name-capture.txt" "$oracle/$name-tpm-log.bin" &&
    tpm_compare "$oracle/$name-tpm-log.bin" "$oracle/$name-prediction.json" "$oracle/$name-oracle" &&
    tpm_check_uki "$oracle/$name-oracle" "$uki" "$stub" "$kver"
}

# The one-byte test. The edit is one a host can make: the UKI lies on the
# unencrypted ESP. max_backoff_ms 2000 -> 2001 keeps the agent working, so
# the test flavour (sample evidence, which does not see measurements) still
# unlocks and the guest reaches a shell that reads the event log back.
onebyte() {
  local d=$oracle/onebyte edited=$work/onebyte.qcow2 log=$work/console-onebyte.log
  local old='"max_backoff_ms": 2000' new='"max_backoff_ms": 2001' param=cvmforge.onebyte=1
  oracle_artifacts
  rm -rf "$d" "$edited" "$edited.partial"
  mkdir -p "$d"
  cp "$oracle/uki.efi" "$d/uki.efi"
  "$py" "$here/uki_edit.py" "$d/uki.efi" --append-cmdline "$param" \
    --initrd-edit etc/cvmforge/agent.json "$old" "$new" >"$d/edit.txt" || { cat "$d/edit.txt"; return 1; }
  sed 's/^/   /' "$d/edit.txt"
  qemu-img create -f qcow2 -b "$image" -F qcow2 "$edited.partial" >/dev/null
  local cpu=()
  [ -z "${CVM_APPLIANCE_CPU:-}" ] || cpu=(config -cpu "$CVM_APPLIANCE_CPU" :)
  guestfish -a "$edited.partial" -- "${cpu[@]}" run : mount "/dev/sda$(esp_partition)" / : \
    upload "$d/uki.efi" /EFI/BOOT/BOOTX64.EFI >/dev/null || return 1
  mv "$edited.partial" "$edited"

  echo "   predictions: the image's UKI and the edited one (uki path), and both on Debian's GRUB path"
  [ -f "$oracle/ok-prediction.json" ] ||
    tpm_predict "$oracle/ok-prediction" 1024 --boot uki --uki "$oracle/uki.efi" --disk-head "$oracle/disk-head.bin" ||
    return 1
  tpm_predict "$oracle/onebyte-prediction" 1024 --boot uki --uki "$d/uki.efi" --disk-head "$oracle/disk-head.bin" ||
    return 1
  "$py" "$here/uki_edit.py" "$oracle/uki.efi" --extract "$d/orig" >/dev/null || return 1
  "$py" "$here/uki_edit.py" "$d/uki.efi" --extract "$d/edited" >/dev/null || return 1
  local v
  for v in orig edited; do
    tpm_predict "$d/grub-$v" 1024 --boot grub --kernel "$d/$v.linux" --initrd "$d/$v.initrd" \
      --cmdline "$(cat "$d/$v.cmdline")" || return 1
  done
  "$py" - "$oracle/ok-prediction.json" "$oracle/onebyte-prediction.json" "$d/grub-orig.json" "$d/grub-edited.json" <<'EOF_PY' || return 1
import json, sys
uki_a, uki_b, grub_a, grub_b = (json.load(open(p)) for p in sys.argv[1:5])
def ev(d, label):
    return next(e for e in d["events"] if e["label"] == label)
bad = []
# UKI path: the edit moves the UKI's digest and RTMR1; the embedded kernel
# stays. With systemd-stub 257 and Linux >= 6.9 (Debian 13) the stub's
# section events and the kernel's initrd and LoadOptions events in RTMR2
# move too.
if ev(uki_a, "uki")["digest"] == ev(uki_b, "uki")["digest"]:
    bad.append("the edited UKI has the same predicted digest")
if not uki_a["rtmr"]["1"] or uki_a["rtmr"]["1"] == uki_b["rtmr"]["1"]:
    bad.append(f"predicted RTMR1 did not change: {uki_a['rtmr']['1']} / {uki_b['rtmr']['1']}")
if ev(uki_a, "uki.kernel")["digest"] != ev(uki_b, "uki.kernel")["digest"]:
    bad.append("the embedded kernel's digest changed, but only initrd and cmdline were edited")
print(f"   uki:  RTMR1 {uki_a['rtmr']['1'][:24]}... -> {uki_b['rtmr']['1'][:24]}... (uki event "
      f"{ev(uki_a, 'uki')['digest'][:16]}... -> {ev(uki_b, 'uki')['digest'][:16]}...)")
rtmr2_events = [e["label"] for e in uki_a["events"] if e["rtmr"] == 2 and e.get("digest")]
for label in ("uki.section.cmdline", "uki.section.initrd", "linux.load_options", "linux.initrd"):
    if label in rtmr2_events and ev(uki_a, label)["digest"] == ev(uki_b, label)["digest"]:
        bad.append(f"RTMR2 event {label} did not change")
if rtmr2_events:
    if uki_a["rtmr"]["2"] == uki_b["rtmr"]["2"]:
        bad.append("predicted RTMR2 did not change although its events cover initrd and cmdline")
    print(f"   uki:  RTMR2 {uki_a['rtmr']['2'][:24]}... -> {uki_b['rtmr']['2'][:24]}... "
          f"({', '.join(l for l in rtmr2_events if l.startswith('linux.') or l.endswith(('.initrd', '.cmdline')))})")
# GRUB path, same kernel, initrd and cmdline. Linux < 6.9 (Debian 11, 12):
# no predicted event moves, and the verdict calls initramfs and command line
# unbound. Linux >= 6.9 (Debian 13): its EFI stub binds them in RTMR2, but
# GRUB's own configuration stays unbound: either way the verdict refuses.
items = {i["input"].split(" (")[0]: i for i in grub_b["binding"]["items"]}
digests = lambda d: [(e["label"], e.get("digest")) for e in d["events"]]
if all(items.get(w, {}).get("state") == "unbound" for w in ("initramfs", "kernel command line")):
    if digests(grub_a) != digests(grub_b) or grub_a["rtmr"] != grub_b["rtmr"]:
        bad.append("the GRUB-path prediction changed with initrd and cmdline, yet the verdict calls them unbound")
    for what in ("initramfs", "kernel command line"):
        print(f"   grub: {what}: unbound ({items[what]['reason']})")
else:
    for label in ("linux.initrd", "linux.load_options"):
        if ev(grub_a, label)["digest"] == ev(grub_b, label)["digest"]:
            bad.append(f"GRUB path: {label} is said to bind but did not change")
    cfg = items.get("GRUB configuration and commands")
    if not cfg or cfg["state"] != "unbound":
        bad.append(f"GRUB path: with a measuring kernel, GRUB's configuration should still be unbound: {cfg}")
    else:
        print(f"   grub: initramfs and command line bound by the kernel's EFI stub (RTMR2); "
              f"GRUB configuration and commands: unbound ({cfg['reason']})")
if grub_b["binding"]["bound"]:
    bad.append("GRUB path: the verdict says bound")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
EOF_PY

  echo "   boot the edited image with the TPM"
  tpm_start "$oracle/tpm-onebyte"
  local dump=()
  mapfile -t dump < <(tpm_dump_args "$oracle/onebyte-capture.txt")
  start_broker
  mapfile -t q < <(fwd "$port")
  local rc=0
  "$boot" "$edited" --log "$log" --timeout 1500 "${q[@]}" "${volume_disks[@]}" "${tpm_qemu_args[@]}" \
    --expect 'cvmforge: root unlocked after attestation' \
    --login --run 'cat /proc/cmdline' --expect-output "$param" "${dump[@]}" || rc=$?
  stop_broker
  tpm_stop_all
  [ "$rc" -eq 0 ] || { echo "FAIL: onebyte: the edited image did not boot (boot-test $rc)"; return 1; }
  oracle_check onebyte "$d/uki.efi" || return 1
  # Measured, not only predicted: the two boots' logs differ in the UKI event
  # exactly as the predictions do (each log matched its own prediction above).
  if [ -f "$oracle/ok-oracle.json" ]; then
    "$py" - "$oracle/ok-oracle.json" "$oracle/onebyte-oracle.json" <<'EOF_PY' || return 1
import json, sys
def measured(path):
    rows = json.load(open(path))["image_layer"]["events"]
    return next(r["actual"]["digest"] for r in rows
                if r["status"] == "match" and r.get("expected", {}).get("label") == "uki")
a, b = measured(sys.argv[1]), measured(sys.argv[2])
print(f"   measured uki event: {a[:16]}... -> {b[:16]}...")
sys.exit("FAIL: the firmware measured the same UKI digest for both" if a == b else 0)
EOF_PY
  fi
}

for c in "${cases[@]}"; do run_case "$c"; done
echo "attested_unlock: ${#cases[@]} cases, $failed failures, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
# A skipped negative case is not a pass: ctest reports the test as skipped.
[ "$skipped" -eq 0 ] || exit 77
