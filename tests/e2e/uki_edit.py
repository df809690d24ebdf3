#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Edit a unified kernel image the way a host that controls the ESP could.

A UKI sits on the unencrypted ESP: a host can rewrite its command line or its
initramfs. The firmware then measures a different Authenticode digest into
RTMR1 (and systemd-stub >= 256 / Linux >= 6.9 measure the changed sections
into RTMR2), so a TD's quote no longer matches the image's reference values.
The e2e tests use these edits:

* --append-cmdline TEXT: append to .cmdline (agent_killed: reach the test
  agent's fault hooks);
* --initrd-edit PATH OLD NEW: in the initramfs inside .initrd, change the file
  PATH (e.g. etc/cvmforge/agent.json) by replacing the byte string OLD with NEW
  once; OLD and NEW must have the same length and differ in exactly one byte
  (the one-byte test of tests/e2e/attested_unlock.sh). The archive is
  unpacked (leading uncompressed cpio archives, then one compressed archive:
  zstd, gzip, xz or lz4, whatever the guest's generator used) and packed
  again with the same compressor, so the kernel unpacks the same tree but for
  that byte.

Sections after a section that changed size are moved (file offsets and
virtual addresses, keeping the image's alignments) and SizeOfImage follows.

--extract PREFIX writes the .linux, .initrd and .cmdline sections (the bytes
systemd-stub reads) to PREFIX.linux, PREFIX.initrd and PREFIX.cmdline, after
the edits if any are given.

Usage: uki_edit.py FILE [--append-cmdline TEXT] [--initrd-edit PATH OLD NEW]
                        [--extract PREFIX]
Prints what it changed; FILE is rewritten in place when something was edited.
"""
import argparse
import struct
import subprocess
import sys

COMPRESSORS = [  # magic, command that decompresses stdin, command that compresses stdin
    (b"\x28\xb5\x2f\xfd", ["zstd", "-dcq"], ["zstd", "-cq", "-T0"]),
    (b"\x1f\x8b", ["gzip", "-dc"], ["gzip", "-c9n"]),
    (b"\xfd7zXZ\x00", ["xz", "-dc"], ["xz", "-c", "--check=crc32"]),
    (b"\x02\x21\x4c\x18", ["lz4", "-dc"], ["lz4", "-c", "-l", "-9"]),
]


def align(n, a):
    return (n + a - 1) // a * a


class Pe:
    def __init__(self, data):
        self.data = bytearray(data)
        (self.pe,) = struct.unpack_from("<I", self.data, 0x3C)
        if self.data[self.pe:self.pe + 4] != b"PE\0\0":
            raise SystemExit("not a PE file")
        count, opt_size = struct.unpack_from("<H12xH", self.data, self.pe + 6)
        self.opt = self.pe + 24
        if struct.unpack_from("<H", self.data, self.opt)[0] != 0x20B:
            raise SystemExit("not a PE32+ image")
        self.section_alignment, self.file_alignment = struct.unpack_from("<II", self.data, self.opt + 32)
        self.table = self.opt + opt_size
        self.sections = []
        for i in range(count):
            at = self.table + 40 * i
            name = self.data[at:at + 8].rstrip(b"\0").decode("ascii", "replace")
            vsize, vaddr, raw_size, raw_ptr = struct.unpack_from("<IIII", self.data, at + 8)
            content = bytes(self.data[raw_ptr:raw_ptr + min(vsize, raw_size)])
            self.sections.append({"name": name, "at": at, "vaddr": vaddr, "vsize": vsize,
                                  "raw_ptr": raw_ptr, "raw_size": raw_size, "content": content})
        for a, b in zip(self.sections, self.sections[1:]):
            if b["raw_ptr"] < a["raw_ptr"] + a["raw_size"] or b["vaddr"] < a["vaddr"] + a["vsize"]:
                raise SystemExit(f"sections {a['name']} and {b['name']} are not in file and memory order")
        end = self.sections[-1]["raw_ptr"] + self.sections[-1]["raw_size"]
        if len(self.data) > end:
            raise SystemExit(f"{len(self.data) - end} bytes after the last section (a signature?): not editable here")

    def get(self, name):
        for s in self.sections:
            if s["name"] == name:
                return s["content"]
        raise SystemExit(f"no {name} section")

    def set(self, name, content):
        if not any(s["name"] == name for s in self.sections):
            raise SystemExit(f"no {name} section")
        for s in self.sections:
            if s["name"] == name:
                s["content"] = content
                s["changed"] = True

    def write(self):
        """Sections before the first changed one stay byte for byte; from
        there on each is placed after the previous one, at the image's
        alignments (a changed section gets VirtualSize = its length)."""
        first = next((i for i, s in enumerate(self.sections) if s.get("changed")), None)
        if first is None:
            return bytes(self.data)
        prev = self.sections[first - 1] if first else None
        if prev:
            out = bytearray(self.data[:prev["raw_ptr"] + prev["raw_size"]])
            va = align(prev["vaddr"] + prev["vsize"], self.section_alignment)
        else:
            out = bytearray(self.data[:self.sections[0]["raw_ptr"]])
            va = self.sections[0]["vaddr"]
        for s in self.sections[first:]:
            raw_ptr = align(len(out), self.file_alignment)
            out += b"\0" * (raw_ptr - len(out))
            if s.get("changed"):
                vsize = len(s["content"])
                raw = s["content"] + b"\0" * (align(vsize, self.file_alignment) - vsize)
            else:
                vsize = s["vsize"]
                raw = bytes(self.data[s["raw_ptr"]:s["raw_ptr"] + s["raw_size"]])
            out += raw
            struct.pack_into("<IIII", out, s["at"] + 8, vsize, va, len(raw), raw_ptr)
            va = align(va + vsize, self.section_alignment)
        struct.pack_into("<I", out, self.opt + 56, va)  # SizeOfImage
        struct.pack_into("<I", out, self.opt + 64, 0)  # CheckSum (nothing verifies it)
        return bytes(out)


def split_initramfs(data):
    """(leading uncompressed cpio bytes, compressed tail)."""
    at = 0
    while data[at:at + 6] in (b"070701", b"070702"):
        while True:
            fields = [int(data[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
            filesize, namesize = fields[6], fields[11]
            name = data[at + 110:at + 110 + namesize - 1]
            at = align(at + 110 + namesize, 4)
            at = align(at + filesize, 4)
            if name == b"TRAILER!!!":
                break
        while at < len(data) and data[at] == 0:
            at += 1
    return data[:at], data[at:]


def edit_cpio(cpio, path, old, new):
    """Replace OLD by NEW once in the data of entry PATH of a newc archive."""
    at = 0
    while cpio[at:at + 6] in (b"070701", b"070702"):
        fields = [int(cpio[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
        filesize, namesize = fields[6], fields[11]
        name = cpio[at + 110:at + 110 + namesize - 1].decode("utf-8", "replace")
        data_at = align(at + 110 + namesize, 4)
        if name.lstrip("./") == path.lstrip("/"):
            body = bytes(cpio[data_at:data_at + filesize])
            if body.count(old) < 1:
                raise SystemExit(f"{path}: {old!r} not found in it")
            i = body.index(old)
            return cpio[:data_at + i] + new + cpio[data_at + i + len(old):], data_at + i
        if name == "TRAILER!!!":
            break
        at = align(data_at + filesize, 4)
    raise SystemExit(f"{path} is not in the initramfs")


def edit_initrd(initrd, path, old, new):
    if len(old) != len(new) or sum(a != b for a, b in zip(old, new)) != 1:
        raise SystemExit("--initrd-edit: OLD and NEW must have the same length and differ in exactly one byte")
    head, tail = split_initramfs(initrd)
    if head:
        try:
            return edit_cpio(head, path, old, new)[0] + tail, "uncompressed"
        except SystemExit:
            pass
    for magic, dec, enc in COMPRESSORS:
        if tail.startswith(magic):
            plain = subprocess.run(dec, input=tail, stdout=subprocess.PIPE, check=True).stdout
            edited, _ = edit_cpio(plain, path, old, new)
            packed = subprocess.run(enc, input=edited, stdout=subprocess.PIPE, check=True).stdout
            return head + packed, dec[0]
    raise SystemExit(f"{path}: not in the uncompressed part, and the rest is not zstd/gzip/xz/lz4")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--append-cmdline", metavar="TEXT")
    ap.add_argument("--initrd-edit", nargs=3, metavar=("PATH", "OLD", "NEW"))
    ap.add_argument("--extract", metavar="PREFIX")
    args = ap.parse_args()
    with open(args.file, "rb") as f:
        pe = Pe(f.read())
    if args.append_cmdline is not None:
        old = pe.get(".cmdline").rstrip(b"\0").decode()
        new = old + " " + args.append_cmdline
        pe.set(".cmdline", new.encode())
        print(f"cmdline: {new}")
    if args.initrd_edit:
        path, old, new = args.initrd_edit
        initrd, how = edit_initrd(pe.get(".initrd"), path, old.encode(), new.encode())
        pe.set(".initrd", initrd)
        print(f"initrd: {path}: {old!r} -> {new!r} ({how} part, {len(initrd)} bytes)")
    if args.append_cmdline is not None or args.initrd_edit:
        out = pe.write()
        with open(args.file, "wb") as f:
            f.write(out)
    if args.extract:
        for name in ("linux", "initrd", "cmdline"):
            with open(f"{args.extract}.{name}", "wb") as f:
                f.write(pe.get("." + name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
