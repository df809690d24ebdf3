#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ci/check-doc-commands (run by ci/lint) catches a misspelt verb or flag and
# passes the repository's own Markdown files.
set -uo pipefail
root=${1:?usage: doc_commands.sh SOURCE_DIR}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
cat >"$scratch/bad.md" <<'MD'
Run `cvmforge biuld x.yaml`, then:

```sh
cvmforge inspect --format raw out.qcow2 && cvmforge measure replay --ccel x --nope
```
MD
out=$("$root/ci/check-doc-commands" "$scratch/bad.md") && { echo "FAIL: a bad file passed"; failed=1; }
for want in "'cvmforge biuld': no such command" "--nope': no such flag"; do
  grep -qF -- "$want" <<<"$out" || { echo "FAIL: missing: $want"; failed=1; }
done
# inspect --format is a (deprecated, hidden) flag that exists: not reported.
grep -q -- "--format'" <<<"$out" && { echo "FAIL: inspect --format reported"; failed=1; }
(cd "$root" && git ls-files -z '*.md' | xargs -0 ci/check-doc-commands) || failed=1
echo "doc_commands: $([ "$failed" -eq 0 ] && echo ok || echo failed)"
exit "$failed"
