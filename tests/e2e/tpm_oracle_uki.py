# SPDX-License-Identifier: Apache-2.0
"""Boot oracle, UKI boot: account for every image-layer event of the TPM log
that `cvmforge measure` did not predict (status unexpected_in_log in
`measure replay --json`'s image_layer report).

An event passes only if it is a measurement that cannot happen in a TD,
identified by PCR, event type AND digest against this UKI's own bytes:

* PCR 11 EV_IPL, digest = SHA-384 of a UKI section's name (with NUL) or of
  its VirtualSize bytes: systemd-stub <= 255 measures the sections it finds
  (systemd v252 src/boot/efi/stub.c, the loop over unified_sections) through
  tpm_log_event() (src/boot/efi/measure.c), which knows only the TCG2 and TCG
  1.2 protocols. A TD without a vTPM has neither; systemd-stub measures
  through EFI_CC_MEASUREMENT_PROTOCOL from v256 on.
* PCR 12 EV_IPL whose digest is the UTF-16 text of its description with NUL:
  the same stub's tpm_log_load_options(), when it takes the firmware's
  LoadOptions as the command line (TCG2 only, as above).
* PCR 9 EV_EVENT_TAG, digest = SHA-384 of the UKI's .initrd, or of its
  .cmdline as UTF-16 with NUL (what systemd-stub hands the kernel as
  LoadOptions): the Linux EFI stub < 6.9 measures initrd and LoadOptions
  through TCG2 only (efi_measure_tagged_event(); the CC protocol fallback is
  Linux 6.9's).

Usage: tpm_oracle_uki.py ORACLE_JSON UKI STUB_VERSION KERNEL_VERSION
Prints one line per log-only event; exit 0 when all are accounted for.
"""
import hashlib
import json
import re
import struct
import sys


def sections_of(pe_bytes):
    """Section name -> the bytes systemd-stub reads (VirtualSize from the raw data)."""
    pe = struct.unpack_from("<I", pe_bytes, 0x3C)[0]
    if pe_bytes[pe:pe + 4] != b"PE\0\0":
        sys.exit("FAIL: the UKI is not a PE image")
    count = struct.unpack_from("<H", pe_bytes, pe + 6)[0]
    optional_size = struct.unpack_from("<H", pe_bytes, pe + 20)[0]
    out = {}
    for i in range(count):
        h = pe + 24 + optional_size + 40 * i
        name = pe_bytes[h:h + 8].rstrip(b"\0").decode("ascii", "replace")
        virtual_size, _, raw_size, raw_pointer = struct.unpack_from("<IIII", pe_bytes, h + 8)
        out[name] = pe_bytes[raw_pointer:raw_pointer + min(virtual_size, raw_size)]
    return out


def sha384(data):
    return hashlib.sha384(data).hexdigest()


def main():
    report = json.load(open(sys.argv[1]))["image_layer"]
    sections = sections_of(open(sys.argv[2], "rb").read())
    stub = re.search(r"systemd-stub v?(\d+)", sys.argv[3])
    stub_major = int(stub.group(1)) if stub else None
    kernel = re.match(r"(\d+)\.(\d+)", sys.argv[4])
    linux = (int(kernel.group(1)), int(kernel.group(2))) if kernel else None

    stub_tcg2_only = stub_major is not None and stub_major <= 255
    linux_tcg2_only = linux is not None and linux < (6, 9)
    stub_digests = {}
    for name, data in sections.items():
        stub_digests[sha384(name.encode("ascii") + b"\0")] = f"the name of section {name}"
        stub_digests[sha384(data)] = f"section {name} ({len(data)} bytes)"
    linux_digests = {}
    if ".cmdline" in sections:
        text = sections[".cmdline"].decode("utf-8") + "\0"
        linux_digests[sha384(text.encode("utf-16-le"))] = "LoadOptions (the UKI's .cmdline)"
    if ".initrd" in sections:
        linux_digests[sha384(sections[".initrd"])] = "initrd (the UKI's .initrd)"

    tpm_only = unexplained = 0
    for event in report["events"]:
        if event["status"] != "unexpected_in_log":
            continue
        a = event["actual"]
        pcr, kind, digest, what = a.get("pcr"), a["type"], a["digest"], a["description"]
        why = None
        if stub_tcg2_only and pcr == 11 and kind == "EV_IPL" and digest in stub_digests:
            why = f"systemd-stub {stub_major} (<= 255, TCG2 only): {stub_digests[digest]}"
        elif (stub_tcg2_only and pcr == 12 and kind == "EV_IPL"
              and digest == sha384((what + "\0").encode("utf-16-le"))):
            why = f"systemd-stub {stub_major} (<= 255, TCG2 only): LoadOptions {what!r}"
        elif linux_tcg2_only and pcr == 9 and kind == "EV_EVENT_TAG" and digest in linux_digests:
            why = f"Linux {linux[0]}.{linux[1]} EFI stub (< 6.9, TCG2 only): {linux_digests[digest]}"
        if why:
            tpm_only += 1
            print(f"  TPM only    PCR {pcr:<2} {kind:<13} {digest[:16]}  {why}")
        else:
            unexplained += 1
            print(f"  UNEXPLAINED PCR {pcr:<2} {kind:<13} {digest[:16]}  {what!r}")
    print(f"log-only image-layer events: {tpm_only} TPM-only (cannot occur in a TD), "
          f"{unexplained} unexplained")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
