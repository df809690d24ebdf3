#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cmake --install puts the man page, the bash completion and the documents
# --help points at where a user's tools look for them.
set -euo pipefail
build=${1:?usage: install.sh BUILD_DIR}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
failed=0
for f in bin/cvmforge share/man/man1/cvmforge.1 share/bash-completion/completions/cvmforge \
  share/doc/cvmforge/README.md share/doc/cvmforge/manifests/README.md \
  share/doc/cvmforge/manifests/examples/demo.yaml share/doc/cvmforge/measurement/README.md; do
  [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; failed=1; }
done
if command -v man >/dev/null; then
  MANPATH=$prefix/share/man man -w cvmforge >/dev/null 2>&1 || { echo "FAIL: man cannot find cvmforge(1)"; failed=1; }
fi
echo "install: $([ "$failed" -eq 0 ] && echo ok || echo failed)"
exit "$failed"
