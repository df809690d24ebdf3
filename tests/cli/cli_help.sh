#!/usr/bin/env bash
# shellcheck disable=SC2015 # `cond && ok || fail`: ok always succeeds
# SPDX-License-Identifier: Apache-2.0
# The command line as a newcomer meets it, pinned as golden text:
#   golden/help-*.txt      `cvmforge [VERB] --help` for every verb (and
#                          `cvmforge help VERB` must print the same)
#   golden/errors.txt      usage errors: stderr and exit code of each case
# plus the generated man page and bash completion agree with --help.
# CVM_UPDATE_GOLDEN=1 rewrites the golden files (review the diff).
# Usage: cli_help.sh CVMFORGE DOC_DIR MAN_PAGE BASH_COMPLETION
set -uo pipefail
cli=${1:?usage: cli_help.sh CVMFORGE DOC_DIR MAN_PAGE BASH_COMPLETION}
doc_dir=${2:?}
man_page=${3:?}
completion=${4:?}
golden=$(cd "$(dirname "$0")" && pwd)/golden
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
cli=$(abs "$cli") man_page=$(abs "$man_page") completion=$(abs "$completion")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
version=$("$cli" --version)

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
# The install prefix and version are the build's, not the golden file's.
normalize() { sed -e "s|$doc_dir|@DOC_DIR@|g" -e "s|$version|@VERSION@|g"; }
compare() { # compare NAME GOLDEN-FILE (actual text on stdin)
  local name=$1 file=$golden/$2
  normalize >"$scratch/actual"
  if [ "${CVM_UPDATE_GOLDEN:-}" = 1 ]; then cp "$scratch/actual" "$file"; fi
  if diff -u "$file" "$scratch/actual" >"$scratch/diff"; then ok; else fail "$name"; sed 's/^/    /' "$scratch/diff"; fi
}

# --- --help of every verb, and `help VERB` prints the same -----------------
compare "--help" help-cvmforge.txt < <("$cli" --help)
compare "help" help-cvmforge.txt < <("$cli" help)
for verb in validate plan build inspect measure "measure replay" version help; do
  file=help-${verb// /-}.txt
  # shellcheck disable=SC2086 # verb paths are words
  compare "$verb --help" "$file" < <("$cli" $verb --help)
  # shellcheck disable=SC2086
  compare "help $verb" "$file" < <("$cli" help $verb)
  # Every verb's help shows the global options and the exit codes.
  grep -q -- '--json' "$golden/$file" && grep -q '^Exit codes: ' "$golden/$file" && ok || fail "$verb help: global options / exit codes"
done

# Help fits a 100-column terminal.
wide=$(awk 'length($0) > 100 { print FILENAME ": " $0 }' "$golden"/help-*.txt)
[ -z "$wide" ] && ok || { fail "help wider than 100 columns"; printf '    %s\n' "$wide"; }

# --- usage errors: one transcript -----------------------------------------
cd "$scratch" || exit 1
mkdir outdir
printf 'not firmware' >garbage.fd
run() { # run ARGS... : append "$ cvmforge ARGS", "[rc]" and stderr to the transcript
  printf '$ %s\n' "cvmforge${*:+ $*}"
  # shellcheck disable=SC2069 # stderr into the transcript, stdout dropped
  "$cli" "$@" 2>&1 >/dev/null
  printf '[exit %s]\n\n' "$?"
}
{
  run
  run frobnicate
  run biuld x.yaml
  run --json biuld
  run help biuld
  run measure rpelay
  run help measure rpelay
  run build
  run validate --no-such-flag x.yaml
  run inspect missing.qcow2
  run inspect --format raw --image-format raw garbage.fd
  run measure --firmware missing.fd
  run measure --firmware garbage.fd --artifacts missing-dir
  run measure replay --ccel missing.ccel
  run measure --firmware garbage.fd -o outdir
  run measure --firmware garbage.fd -o /tmp/
  run measure replay --ccel garbage.fd -o outdir
  run measure --firmware garbage.fd --memory 2G --qemu-version 9.2.1 --ovmf-version edk2-stable202411 --kernel garbage.fd
  run validate missing.yaml
} >"$scratch/errors.out"
compare "usage errors" errors.txt <"$scratch/errors.out"
# Nothing was written next to the refused output directory.
hidden=("$scratch"/.[!.]*)
[ -z "$(ls -A outdir)" ] && [ ! -e "${hidden[0]}" ] && ok || fail "-o DIR left files behind"

# --- man page: generated from the CLI definition; every flag of every verb -
if [ "${CVM_UPDATE_GOLDEN:-}" != 1 ]; then
  for file in "$golden"/help-*.txt; do
    for flag in $(grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]*' "$file" | tr -d ' ,' | sort -u); do
      [ "$flag" = --help ] && continue
      grep -qF -- "${flag//-/\\-}" "$man_page" && ok || fail "man page lacks $flag (from $(basename "$file"))"
    done
  done
  if ! command -v groff >/dev/null; then
    echo "note: groff is not installed; the man page's roff is not checked"
  elif groff -man -Tutf8 -ww -z "$man_page" 2>"$scratch/groff.err" && [ ! -s "$scratch/groff.err" ]; then ok; else
    fail "man page: groff warnings"; sed 's/^/    /' "$scratch/groff.err"
  fi
  grep -q '^\.SH EXIT STATUS' "$man_page" && grep -q 'CVMFORGE_AGENT_DIR' "$man_page" && ok || fail "man page sections"
fi

# --- bash completion ---------------------------------------------------------
bash -n "$completion" && ok || fail "completion: syntax"
complete_words() { # complete_words WORD... (the last one is being completed)
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cvmforge; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$completion" "$@" | sort | tr '\n' ' '
}
[ "$(complete_words cvmforge bu)" = "build " ] && ok || fail "completion: verbs ($(complete_words cvmforge bu))"
[ "$(complete_words cvmforge inspect --image-format '')" = "qcow2 raw " ] && ok || fail "completion: choices"
complete_words cvmforge measure replay --t | grep -q -- '--tpm-log' && ok || fail "completion: nested verb flags"
complete_words cvmforge build --j | grep -q -- '--json' && ok || fail "completion: global options after the verb"
[ "$(complete_words cvmforge help me)" = "measure " ] && ok || fail "completion: help VERB"
complete_words cvmforge generate | grep -q generate && fail "completion: hidden verb offered" || ok

echo "cli_help: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
