#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CLI contract: exit codes, --json on stdout with logs on stderr, plan output.
set -uo pipefail
cli=${1:?usage: cli_basics.sh CVMFORGE MANIFESTS_DIR}
manifests=${2:?usage: cli_basics.sh CVMFORGE MANIFESTS_DIR}
# shellcheck source=tests/cli/placeholders.sh
source "$(dirname "$0")/placeholders.sh"

passed=0 failed=0
check() { # check NAME EXPECTED_RC CMD... ; stdout in $out, stderr in $err
  local name=$1 want=$2; shift 2
  "$@" >"$scratch/out.txt" 2>"$scratch/err.txt"
  local rc=$?
  out=$(cat "$scratch/out.txt"); err=$(cat "$scratch/err.txt")
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL $name: exit $rc, want $want"; printf '%s\n' "$err" | sed 's/^/    /'; failed=$((failed + 1)); return 1
  fi
  passed=$((passed + 1))
}
expect() { # expect NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}

check help 0 "$cli" --help
expect help-lists-verbs grep -q 'measure' <<<"$out"
check version 0 "$cli" --version
check unknown-verb 2 "$cli" frobnicate
check missing-manifest-arg 2 "$cli" validate
check validate-missing-file 2 "$cli" validate "$scratch/nope.yaml"
expect validate-missing-file-message grep -q "nope.yaml:1:1: error: cannot open" <<<"$err"
check version-json 0 "$cli" --json version
expect version-json-parses python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["manifest_schema"]==1' <<<"$out"
check validate-json-invalid 2 "$cli" --json validate "$manifests/invalid/multiple-errors.yaml"
expect validate-json-shape python3 -c '
import json,sys
d=json.load(sys.stdin)
assert d["valid"] is False
diags=d["manifests"][0]["diagnostics"]
assert len(diags)==4 and diags[0]["line"]==10 and diags[0]["column"]==11, diags
assert diags[2]["hint"]=="did you mean '"'"'sector_size'"'"'?"' <<<"$out"
expect validate-json-logs-on-stderr grep -q "10:11: error" <<<"$err"
check plan-text 0 "$cli" plan "$manifests/examples/demo.yaml"
expect plan-lists-stages grep -qE '^ +7\. copy-root' <<<"$out"
expect plan-skip-reason grep -q 'inject-agent.*skip: attestation is disabled' <<<"$out"
check plan-json 0 "$cli" --json plan "$manifests/examples/debian12-uki.yaml"
expect plan-json-shape python3 -c '
import json,sys
d=json.load(sys.stdin)
names=[s["name"] for s in d["stages"]]
assert names[0]=="check-inputs" and "copy-root" in names and "make-uki" in names, names
assert d["manifest"]["luks"]["cipher"]=="aes-xts-plain64"
assert d["manifest"]["attestation"]["kbs_urls"][1]=="https://kbs-backup.example.com:8080"
b=d["binding"]
items={i["input"].split(" (")[0].split(":")[0]: i for i in b["items"]}
uki=items["unified kernel image"]
assert uki["state"]=="bound" and uki["register"]=="RTMR1" and uki["pinned_by_policy"], uki
assert all(i["state"]!="unbound" for i in b["items"]), b
assert b["pinned_registers"][:3]==["mrtd","rtmr0","rtmr1"], b' <<<"$out"
expect plan-text-shows-binding grep -q "unified kernel image" < <("$cli" plan "$manifests/examples/debian12-uki.yaml" 2>&1)
# Acceptance of the binding issue: an attested Debian 12 GRUB manifest is
# refused by plan (and validate, tests/cli/validate_manifests.sh), naming
# what the host could swap.
check plan-grub-unbound 2 "$cli" plan "$manifests/invalid/attested-grub-unbound.yaml"
expect plan-grub-unbound-reason grep -q "would not be bound to this image: GRUB configuration.*initramfs.*Linux >= 6.9" <<<"$err"
check plan-invalid 2 "$cli" plan "$manifests/invalid/unknown-key.yaml"
check quiet-valid 0 "$cli" --quiet validate "$manifests/examples/demo.yaml"
expect quiet-is-quiet test -z "$err"

# Global options work after the verb too (every verb's --help says so).
check json-after-verb 0 "$cli" validate --json "$manifests/examples/demo.yaml"
expect json-after-verb-parses python3 -c 'import json,sys; assert json.load(sys.stdin)["valid"] is True' <<<"$out"
# plan lists every file the build writes, secrets marked.
check plan-writes 0 "$cli" plan "$manifests/examples/test-sample-attestation.yaml"
for suffix in "" .key .report.json .recovery .kbs.json .resource-policy.rego; do
  expect "plan-writes$suffix" grep -qxF "  $CVM_OUT/test-sample.qcow2$suffix" <<<"$out"
done
expect plan-writes-secret grep -q 'disk key.*\[secret\]' <<<"$out"
expect plan-insecure-test grep -q '^INSECURE-TEST: ' <<<"$out"
check plan-writes-reference 0 "$cli" --json plan "$manifests/examples/debian12-uki.yaml"
expect plan-json-outputs python3 -c '
import json,sys
d=json.load(sys.stdin)
paths={o["path"].rsplit("/",1)[1]: o for o in d["outputs"]}
assert paths["debian12-web.qcow2.key"]["secret"] is True, paths
assert "debian12-web.qcow2.reference.json" in paths and "debian12-web.qcow2.recovery" in paths, paths
assert d["insecure_test"] is False
# Each data volume: its disk and its key (secret), next to the image.
assert paths["debian12-web.www.qcow2"]["secret"] is False, paths
assert paths["debian12-web.www.qcow2.key"]["secret"] is True, paths
assert paths["debian12-web.logs.qcow2.key"]["secret"] is True, paths
assert [v["mount"] for v in d["manifest"]["volumes"]] == ["/srv/www", "/var/log/web"]
assert d["manifest"]["partitions"]["esp"]["filesystem"]=="vfat"' <<<"$out"
check plan-volumes 0 "$cli" plan "$manifests/examples/debian12-uki.yaml"
expect plan-volumes-text grep -q '^Volume    www: built, 2G ext4 at /srv/www (required' <<<"$out"
expect plan-volumes-stage grep -qE '^ +8\. make-volumes +Writing the encrypted data volumes' <<<"$out"
check validate-insecure-test 0 "$cli" validate "$manifests/examples/test-sample-attestation.yaml"
expect validate-insecure-test-warns grep -q 'INSECURE-TEST' <<<"$err"
# Without CVM_OUT the examples refuse to put the key anywhere (no default in the checkout).
check no-cvm-out 2 env -u CVM_OUT "$cli" plan "$manifests/examples/demo.yaml"
expect no-cvm-out-says-why grep -q 'environment variable CVM_OUT is not set' <<<"$err"

echo "cli_basics: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
