#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every manifests/examples/*.yaml must validate (exit 0); every
# manifests/invalid/*.yaml must fail with exit code 2 and print exactly the
# diagnostics pinned in its "# expect: " comment lines, in order.
# In expectations, ${MANIFEST_DIR} and ${CVM_IMAGES} stand for those paths.
set -euo pipefail
cli=${1:?usage: validate_manifests.sh CVMFORGE MANIFESTS_DIR}
manifests=${2:?usage: validate_manifests.sh CVMFORGE MANIFESTS_DIR}

# Placeholders for the inputs the examples name through the environment,
# in $scratch.
# shellcheck source=tests/cli/placeholders.sh
source "$(dirname "$0")/placeholders.sh"

failures=0
checked=0
for m in "$manifests"/examples/*.yaml; do
  checked=$((checked + 1))
  if ! out=$("$cli" validate "$m" 2>&1); then
    echo "FAIL: $m should be valid:"; printf '%s\n' "$out" | sed 's/^/    /'
    failures=$((failures + 1))
  fi
done

for m in "$manifests"/invalid/*.yaml; do
  checked=$((checked + 1))
  dir=$(cd "$(dirname "$m")" && pwd)
  expected=$(sed -n 's/^# expect: //p' "$m" | while IFS= read -r line; do
    # shellcheck disable=SC2016 # the manifests' literal ${...} text, replaced here
    line=${line//'${MANIFEST_DIR}'/$dir}
    # shellcheck disable=SC2016
    line=${line//'${CVM_IMAGES}'/$CVM_IMAGES}
    printf '%s:%s\n' "$m" "$line"
  done)
  if [ -z "$expected" ]; then
    echo "FAIL: $m pins no '# expect:' diagnostic"; failures=$((failures + 1)); continue
  fi
  set +e
  actual=$("$cli" --quiet validate "$m" 2>&1 >/dev/null)
  rc=$?
  set -e
  if [ "$rc" -ne 2 ]; then
    echo "FAIL: $m: exit code $rc, expected 2"; failures=$((failures + 1))
  fi
  # --quiet drops the summary line; errors are printed whatever the level.
  actual=$(printf '%s\n' "$actual" | grep -v '^cvmforge: error: ' || true)
  if [ "$actual" != "$expected" ]; then
    echo "FAIL: $m diagnostics differ"
    diff <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") | sed 's/^/    /' || true
    failures=$((failures + 1))
  fi
done

echo "validate_manifests: $((checked - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
