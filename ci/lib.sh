# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared by the ci/ scripts: repository root, logging, root-or-sudo.
set -euo pipefail
CVM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CVM_ROOT
# Each step's line carries the time since the outermost ci/ script started, so
# a CI log shows where its minutes went.
: "${CVM_CI_T0:=$(date +%s)}"
export CVM_CI_T0
say() { printf '\n==> [+%ss] %s\n' "$(($(date +%s) - CVM_CI_T0))" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root for: $* (run as root or install sudo)"; fi
}
