#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Rewrite the .cmdline section of a unified kernel image in place.

What a host that controls the unencrypted ESP can do to a UKI: the firmware
then measures a different Authenticode digest into RTMR1, so a TD's quote no
longer matches the image's reference values. The e2e tests use it with the
test flavour of the agent, which releases keys on sample evidence, to reach
the agent's fault-injection hooks (cvmforge.test_fault=) on a UKI image.

Usage: uki_cmdline.py FILE --append TEXT   (prints the new command line)
"""
import argparse
import struct
import sys


def sections(pe):
    (pe_offset,) = struct.unpack_from("<I", pe, 0x3C)
    if pe[pe_offset:pe_offset + 4] != b"PE\0\0":
        raise SystemExit("not a PE file")
    count, opt_size = struct.unpack_from("<H12xH", pe, pe_offset + 6)
    table = pe_offset + 24 + opt_size
    for i in range(count):
        at = table + 40 * i
        name = pe[at:at + 8].rstrip(b"\0").decode("ascii", "replace")
        vsize, vaddr, raw_size, raw_ptr = struct.unpack_from("<IIII", pe, at + 8)
        yield name, at, vsize, raw_size, raw_ptr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--append", required=True)
    args = ap.parse_args()
    with open(args.file, "rb") as f:
        pe = bytearray(f.read())
    for name, at, vsize, raw_size, raw_ptr in sections(pe):
        if name != ".cmdline":
            continue
        old = bytes(pe[raw_ptr:raw_ptr + vsize]).rstrip(b"\0").decode()
        new = (old + " " + args.append).encode()
        if len(new) > raw_size:
            raise SystemExit(f".cmdline has room for {raw_size} bytes, {len(new)} needed")
        pe[raw_ptr:raw_ptr + raw_size] = new + b"\0" * (raw_size - len(new))
        struct.pack_into("<I", pe, at + 8, len(new))
        with open(args.file, "wb") as f:
            f.write(pe)
        print(new.decode())
        return 0
    raise SystemExit("no .cmdline section")


if __name__ == "__main__":
    sys.exit(main())
