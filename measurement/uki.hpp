// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

// Unified Kernel Images: the guest's own systemd EFI stub (linuxx64.efi.stub)
// with the kernel, initrd, command line, os-release and uname appended as PE
// sections, the way systemd's ukify (pe_add_sections, v254+) builds one.
// Pure and deterministic: the output is a function of the inputs only.
namespace cvm::measure {

struct UkiSections {
  std::string osrel;   // .osrel   (os-release contents)
  std::string cmdline; // .cmdline written as given: no NUL is added, none is needed
  std::string uname;   // .uname   (kernel release, e.g. "6.1.0-37-amd64")
  // .linux. Not called `linux`: compilers in GNU mode predefine that as a macro.
  std::vector<std::byte> kernel;
  std::optional<std::vector<std::byte>> initrd; // .initrd
};

// Appends the sections of `s` to `stub` in the order .osrel, .cmdline, .uname,
// .initrd, .linux (ukify's order: the kernel, the largest, last). The stub's
// headers and sections stay byte for byte; each new section starts at the next
// SectionAlignment boundary after the previous one's VirtualAddress +
// VirtualSize, its raw data at the next FileAlignment boundary of the file,
// VirtualSize is the exact size and SizeOfRawData that size rounded up to
// FileAlignment (zero padding). .linux is IMAGE_SCN_CNT_CODE|MEM_READ (ukify:
// systemd-stub runs kernels without the PE entry point in place, through the
// EFI handover protocol), the others IMAGE_SCN_CNT_INITIALIZED_DATA|MEM_READ.
// The header changes: NumberOfSections, SizeOfImage, SizeOfInitializedData
// (+ each VirtualSize, as ukify), CheckSum = 0 (as ukify: UEFI loaders ignore
// it and Authenticode skips it; a signing tool recomputes it), and, only when
// the stub ends in a COFF symbol table (Debian's 252 stub does), that table is
// dropped as ukify drops it: PointerToSymbolTable = NumberOfSymbols = 0. For
// the same stub and sections the output is byte-identical to ukify's
// pe_add_sections() (checked against systemd v256's ukify.py).
// An empty osrel/cmdline/uname adds no section: systemd-stub treats a
// zero-size section as absent, and with no .cmdline it takes the command line
// from LoadOptions even under Secure Boot (outside confidential VMs from 254 on).
// Throws cvm::Error(input) for a stub that is not PE32+ x86-64, not
// systemd-stub (no "#### LoaderInfo: systemd-stub ... ####"), signed, already
// has one of the added sections (or one whose name starts with it: systemd-stub
// up to 25x matches by prefix), lacks zeroed header room for the new section
// headers before its first section's data (data is never moved), has section
// data not aligned to FileAlignment, or has trailing bytes other than a COFF
// symbol table; and for an empty kernel or a command line containing NUL.
std::vector<std::byte> assemble_uki(std::span<const std::byte> stub, const UkiSections &s);

struct UkiInfo {
  // "systemd-stub 252.39-1~deb12u2": the text between "#### LoaderInfo: " and
  // " ####" in the .sdmagic section (systemd >= 250), or, for older stubs that
  // keep the string in their data (247), in a section that is not UKI payload.
  // Empty if neither is found.
  std::string stub_version;
  // Every section by name, with the VirtualSize bytes systemd-stub reads
  // (min(VirtualSize, SizeOfRawData) for sections of the stub itself).
  std::map<std::string, std::vector<std::byte>> sections;
};

// Parses a UKI. Throws cvm::Error(input) for a malformed PE (see parse_pe), a
// section name that occurs twice, a UKI payload section (.linux, .initrd,
// .cmdline, ...) whose VirtualSize exceeds its raw data, or no non-empty .linux.
UkiInfo parse_uki(std::span<const std::byte> image);

// The systemd major version of the stub (247, 252, 257 ...), from
// stub_version "systemd-stub [v]NNN..."; nullopt for anything else.
std::optional<int> systemd_stub_major(const UkiInfo &info);

// The cpio archive systemd-stub (v257) builds in memory to hand a UKI
// section to the kernel as a file (pack_cpio_literal(): "070701" newc
// records, inodes counted from 1, mode 040555 for each directory of `dir`
// and 0100444 for the file, uid/gid/mtime/dev 0, nlink 1, every record
// padded to 4 bytes, then its fixed TRAILER!!! record). v257 appends one
// holding .osrel as /.extra/os-release to the initrd it gives the kernel.
std::vector<std::byte>
stub_literal_cpio(std::string_view dir, std::string_view file, std::span<const std::byte> data);

// The initrd systemd-stub v257 hands the kernel through LoadFile2 when the
// ESP holds no add-ons, credentials or extensions: the initrds it has (the
// .initrd section, then the /.extra/os-release archive of .osrel), each
// padded to 4 bytes when there are several. nullopt when there is none.
std::optional<std::vector<std::byte>> systemd_stub_257_initrd(const UkiInfo &info);

} // namespace cvm::measure
