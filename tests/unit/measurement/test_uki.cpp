// SPDX-License-Identifier: Apache-2.0
#include "lib/crypto/crypto.hpp"
#include "lib/util/error.hpp"
#include "lib/util/exec.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "measurement/byte_reader.hpp"
#include "measurement/pe.hpp"
#include "measurement/uki.hpp"
#include "tests/unit/measurement/pe_stub.hpp"
#include "tests/unit/measurement/test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

namespace cvm::measure {
namespace {

using test::bytes_of;
using test::k_opt;
using test::k_pe;
using test::k_table;
using test::make_stub;
using test::pseudo_random;
using test::put_at;
using test::round_up;
using test::StubSpec;

using test::put_at;
constexpr const char *k_real_stub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

std::uint64_t
get_at(std::span<const std::byte> in, std::size_t offset, std::size_t width) {
  return read_le_at(in, offset, width, "test", "field");
}

UkiSections
sample_sections(bool with_initrd = true) {
  UkiSections s;
  s.osrel = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";
  s.cmdline = "root=/dev/mapper/root ro console=ttyS0";
  s.uname = "6.1.0-37-amd64";
  s.kernel = pseudo_random(300001, 10);
  if (with_initrd) {
    s.initrd = pseudo_random(137 * 512, 11); // a multiple of FileAlignment: no padding
  }
  return s;
}

std::vector<std::pair<std::string, std::vector<std::byte>>>
expected_added(const UkiSections &s) {
  std::vector<std::pair<std::string, std::vector<std::byte>>> out;
  if (!s.osrel.empty()) {
    out.emplace_back(".osrel", bytes_of(s.osrel));
  }
  if (!s.cmdline.empty()) {
    out.emplace_back(".cmdline", bytes_of(s.cmdline));
  }
  if (!s.uname.empty()) {
    out.emplace_back(".uname", bytes_of(s.uname));
  }
  if (s.initrd) {
    out.emplace_back(".initrd", *s.initrd);
  }
  out.emplace_back(".linux", s.kernel);
  return out;
}

// Layout rules checked on the output, independent of how it was produced.
void
expect_ukify_layout(std::span<const std::byte> stub, std::span<const std::byte> uki, const UkiSections &s) {
  const PeImage before = parse_pe(stub);
  const PeImage after = parse_pe(uki);
  const auto added = expected_added(s);
  const std::size_t opt = after.pe_header_offset + 24;
  const auto section_alignment = get_at(uki, opt + 32, 4);
  const auto file_alignment = get_at(uki, opt + 36, 4);
  ASSERT_EQ(after.sections.size(), before.sections.size() + added.size());
  EXPECT_EQ(get_at(uki, after.pe_header_offset + 6, 2), after.sections.size());
  std::uint64_t init_data = get_at(stub, opt + 8, 4);
  for (std::size_t i = 0; i < added.size(); ++i) {
    const auto &sec = after.sections[before.sections.size() + i];
    const auto &prev = after.sections[before.sections.size() + i - 1];
    SCOPED_TRACE(sec.name);
    EXPECT_EQ(sec.name, added[i].first);
    EXPECT_EQ(sec.virtual_size, added[i].second.size());
    EXPECT_EQ(sec.virtual_address % section_alignment, 0U);
    EXPECT_EQ(sec.virtual_address, round_up(prev.virtual_address + prev.virtual_size, section_alignment));
    EXPECT_EQ(sec.pointer_to_raw_data % file_alignment, 0U);
    EXPECT_EQ(sec.pointer_to_raw_data,
              round_up(prev.pointer_to_raw_data + prev.size_of_raw_data, file_alignment));
    EXPECT_EQ(sec.size_of_raw_data, round_up(added[i].second.size(), file_alignment));
    const auto raw = uki.subspan(sec.pointer_to_raw_data, sec.size_of_raw_data);
    EXPECT_TRUE(std::equal(added[i].second.begin(), added[i].second.end(), raw.begin()));
    EXPECT_TRUE(std::all_of(raw.begin() + static_cast<std::ptrdiff_t>(added[i].second.size()),
                            raw.end(),
                            [](std::byte b) { return b == std::byte{0}; }));
    const std::size_t header =
        opt + get_at(uki, after.pe_header_offset + 20, 2) + 40 * (before.sections.size() + i);
    EXPECT_EQ(get_at(uki, header + 36, 4), sec.name == ".linux" ? 0x40000020U : 0x40000040U);
    EXPECT_EQ(get_at(uki, header + 24, 8), 0U); // relocations, line numbers
    EXPECT_EQ(get_at(uki, header + 32, 4), 0U);
    init_data += sec.virtual_size;
  }
  const auto &last = after.sections.back();
  EXPECT_EQ(last.name, ".linux");
  EXPECT_EQ(uki.size(), std::uint64_t{last.pointer_to_raw_data} + last.size_of_raw_data);
  EXPECT_EQ(get_at(uki, opt + 56, 4), round_up(last.virtual_address + last.virtual_size, section_alignment));
  EXPECT_EQ(get_at(uki, opt + 8, 4), init_data);
  EXPECT_EQ(get_at(uki, after.checksum_offset, 4), 0U);
  // The stub's sections are where they were, byte for byte.
  for (std::size_t i = 0; i < before.sections.size(); ++i) {
    const auto &b = before.sections[i];
    const auto &a = after.sections[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.virtual_address, b.virtual_address);
    EXPECT_EQ(a.virtual_size, b.virtual_size);
    EXPECT_EQ(a.pointer_to_raw_data, b.pointer_to_raw_data);
    EXPECT_EQ(a.size_of_raw_data, b.size_of_raw_data);
    const auto x = stub.subspan(b.pointer_to_raw_data, b.size_of_raw_data);
    const auto y = uki.subspan(a.pointer_to_raw_data, a.size_of_raw_data);
    EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end())) << b.name;
  }
}

TEST(Uki, AppendsSectionsAfterTheStubAlignedAsUkify) {
  const auto stub = make_stub();
  for (const bool initrd : {true, false}) {
    SCOPED_TRACE(initrd ? "with initrd" : "without initrd");
    const auto s = sample_sections(initrd);
    const auto uki = assemble_uki(stub, s);
    expect_ukify_layout(stub, uki, s);
  }
}

TEST(Uki, ChangesOnlyTheDocumentedHeaderFields) {
  const auto stub = make_stub();
  const auto uki = assemble_uki(stub, sample_sections());
  std::set<std::size_t> changed;
  const auto mark = [&](std::size_t at, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) {
      changed.insert(at + i);
    }
  };
  mark(k_pe + 6, 2);              // NumberOfSections
  mark(k_opt + 8, 4);             // SizeOfInitializedData
  mark(k_opt + 56, 4);            // SizeOfImage
  mark(k_opt + 64, 4);            // CheckSum
  mark(k_table + 3 * 40, 5 * 40); // the five new section headers
  ASSERT_GE(uki.size(), stub.size());
  for (std::size_t i = 0; i < stub.size(); ++i) {
    if (!changed.contains(i) && uki[i] != stub[i]) {
      ADD_FAILURE() << "byte " << i << " of the stub changed";
      break;
    }
  }
  EXPECT_EQ(get_at(uki, k_pe + 8, 4), 0x5eadbeefU) << "TimeDateStamp";
}

TEST(Uki, ParseReturnsEverySectionByteForByte) {
  const auto stub = make_stub();
  const auto s = sample_sections();
  const auto info = parse_uki(assemble_uki(stub, s));
  EXPECT_EQ(info.stub_version, "systemd-stub 252.39-1~deb12u2");
  EXPECT_EQ(systemd_stub_major(info), 252);
  for (const auto &[name, data] : expected_added(s)) {
    ASSERT_TRUE(info.sections.contains(name)) << name;
    EXPECT_EQ(info.sections.at(name), data) << name;
  }
  EXPECT_EQ(info.sections.at(".data"), pseudo_random(0x1e0, 2));
  EXPECT_EQ(info.sections.size(), 8U);
}

TEST(Uki, IsAFunctionOfItsInputsOnly) {
  const auto stub = make_stub();
  const auto a = assemble_uki(stub, sample_sections());
  const auto b = assemble_uki(stub, sample_sections());
  EXPECT_EQ(a, b);
  auto other = sample_sections();
  other.cmdline += " quiet";
  EXPECT_NE(assemble_uki(stub, other), a);
}

TEST(Uki, EmptyTextSectionsAreLeftOut) {
  const auto stub = make_stub();
  auto s = sample_sections(false);
  s.uname.clear();
  s.osrel.clear();
  const auto uki = assemble_uki(stub, s);
  expect_ukify_layout(stub, uki, s);
  const auto pe = parse_pe(uki);
  ASSERT_EQ(pe.sections.size(), 5U);
  EXPECT_EQ(pe.sections[3].name, ".cmdline");
  EXPECT_EQ(pe.sections[4].name, ".linux");
}

TEST(Uki, DropsATrailingSymbolTableAsUkifyDoes) {
  StubSpec spec;
  spec.symbols = 7;
  const auto stub = make_stub(spec);
  const auto s = sample_sections();
  const auto uki = assemble_uki(stub, s);
  expect_ukify_layout(stub, uki, s);
  EXPECT_EQ(get_at(uki, k_pe + 12, 4), 0U) << "PointerToSymbolTable";
  EXPECT_EQ(get_at(uki, k_pe + 16, 4), 0U) << "NumberOfSymbols";
  EXPECT_EQ(get_at(uki, k_pe + 22, 2), 0x0206U) << "Characteristics stay (as in ukify's output)";
  // The first new section starts where the symbol table was.
  EXPECT_EQ(parse_pe(uki).sections[3].pointer_to_raw_data, get_at(stub, k_pe + 12, 4));
}

TEST(Uki, AcceptsAStubWithLoaderInfoInItsDataLike247) {
  StubSpec spec;
  spec.sdmagic_section = false;
  spec.loader_info = "#### LoaderInfo: systemd-stub 247.3-7+deb11u4 ####";
  const auto stub = make_stub(spec);
  const auto s = sample_sections();
  const auto uki = assemble_uki(stub, s);
  expect_ukify_layout(stub, uki, s);
  const auto info = parse_uki(uki);
  EXPECT_EQ(info.stub_version, "systemd-stub 247.3-7+deb11u4");
  EXPECT_EQ(systemd_stub_major(info), 247);
}

void
expect_input_error(const std::function<void()> &f, std::string_view needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing \"" << needle << "\"";
  } catch (const Error &e) {
    EXPECT_EQ(e.kind(), ErrorKind::input) << e.what();
    EXPECT_NE(std::string_view(e.what()).find(needle), std::string_view::npos) << e.what();
  }
}

TEST(Uki, RefusesStubsItCannotExtendWithoutGuessing) {
  const auto s = sample_sections();
  const auto refuse = [&](const StubSpec &spec, std::string_view needle) {
    SCOPED_TRACE(needle);
    const auto stub = make_stub(spec);
    expect_input_error([&] { (void)assemble_uki(stub, s); }, needle);
  };
  StubSpec spec;
  spec.machine = 0xaa64;
  refuse(spec, "expected 0x8664 (x86-64)");
  spec = {};
  spec.magic = 0x10b;
  refuse(spec, "not a PE32+ image");
  spec = {};
  spec.loader_info = "nothing to see here";
  refuse(spec, "not a systemd EFI stub");
  spec = {};
  spec.loader_info = "#### LoaderInfo: systemd-boot 252.39-1~deb12u2 ####";
  refuse(spec, "not systemd-stub");
  spec = {};
  spec.extra_sections = {".cmdline"};
  refuse(spec, "already has a section '.cmdline'");
  spec = {};
  spec.extra_sections = {".linuxz"};
  refuse(spec, "matches '.linux' by prefix");
  spec = {};
  spec.first_data = 0x200; // the section table fills the headers
  refuse(spec, "no room for 5 more section headers");
  spec = {};
  spec.certificate_size = 0x40;
  refuse(spec, "the stub is signed");
  spec = {};
  spec.unaligned_data = true;
  refuse(spec, "not aligned to FileAlignment");
  spec = {};
  spec.trailing_junk = 0x10;
  refuse(spec, "not a COFF symbol table that ends the file");
  spec = {};
  spec.symbols = 3;
  spec.trailing_junk = 1;
  refuse(spec, "not a COFF symbol table that ends the file");

  // Header room that is not zero is not room.
  auto stub = make_stub();
  stub[k_table + 3 * 40 + 100] = std::byte{1};
  expect_input_error([&] { (void)assemble_uki(stub, s); }, "not zero");
}

TEST(Uki, RefusesSectionsTheStubWouldMisread) {
  const auto stub = make_stub();
  auto s = sample_sections();
  s.kernel.clear();
  expect_input_error([&] { (void)assemble_uki(stub, s); }, "kernel (.linux) is empty");
  s = sample_sections();
  s.cmdline = std::string("root=/dev/sda1\0 init=/bin/sh", 28);
  expect_input_error([&] { (void)assemble_uki(stub, s); }, "NUL");
}

TEST(Uki, ParseRefusesWhatIsNotAUki) {
  const auto stub = make_stub();
  expect_input_error([&] { (void)parse_uki(stub); }, "no .linux section");
  std::vector<std::byte> junk(4096, std::byte{0x41});
  expect_input_error([&] { (void)parse_uki(junk); }, "DOS magic");

  auto uki = assemble_uki(stub, sample_sections());
  auto dup = uki;
  const char *name = ".linux\0\0";
  std::copy(name, name + 8, reinterpret_cast<char *>(dup.data()) + k_table + 3 * 40); // .osrel -> .linux
  expect_input_error([&] { (void)parse_uki(dup); }, "occurs twice");

  auto big = uki;
  const std::size_t cmdline_header = k_table + 4 * 40;
  put_at(big, cmdline_header + 8, get_at(big, cmdline_header + 16, 4) + 1, 4);
  expect_input_error([&] { (void)parse_uki(big); }, "beyond its");
}

TEST(Uki, SystemdStubMajor) {
  const auto major = [](std::string v) {
    UkiInfo info;
    info.stub_version = std::move(v);
    return systemd_stub_major(info);
  };
  EXPECT_EQ(major("systemd-stub 247.3-7+deb11u4"), 247);
  EXPECT_EQ(major("systemd-stub 252.39-1~deb12u2"), 252);
  EXPECT_EQ(major("systemd-stub 257.7-1"), 257);
  EXPECT_EQ(major("systemd-stub v258-rc1"), 258);
  EXPECT_EQ(major("systemd-boot 252.39-1~deb12u2"), std::nullopt);
  EXPECT_EQ(major("systemd-stub "), std::nullopt);
  EXPECT_EQ(major("systemd-stub 123456"), std::nullopt);
  EXPECT_EQ(major(""), std::nullopt);
}

TEST(UkiRobustness, TruncatedAndCorruptedInputsAreInputErrors) {
  const auto stub = make_stub();
  const auto s = sample_sections(false);
  const auto uki = assemble_uki(stub, s);
  test::Lcg rng(7);
  for (int round = 0; round < 2000; ++round) {
    auto bad_stub = stub;
    auto bad_uki = uki;
    const auto flips = 1 + rng.next() % 4;
    for (std::uint64_t i = 0; i < flips; ++i) {
      bad_stub[rng.next() % 0x400] = static_cast<std::byte>(rng.next() & 0xff);
      bad_uki[rng.next() % 0x400] = static_cast<std::byte>(rng.next() & 0xff);
    }
    for (const auto &[what, f] : std::vector<std::pair<const char *, std::function<void()>>>{
             {"assemble", [&] { (void)assemble_uki(bad_stub, s); }},
             {"parse", [&] { (void)parse_uki(bad_uki); }},
             {"truncated", [&] { (void)parse_uki(std::span(uki).first(rng.next() % uki.size())); }}}) {
      try {
        f();
      } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::input) << what << ": " << e.what();
      }
    }
  }
}

// Authenticode over a UKI whose section data follows the headers without a
// gap is simply: everything but CheckSum and the certificate directory entry.
TEST(Uki, AuthenticodeOfTheAssembledImage) {
  const auto uki = assemble_uki(make_stub(), sample_sections());
  const auto pe = parse_pe(uki);
  ASSERT_EQ(pe.sections.front().pointer_to_raw_data, pe.size_of_headers);
  crypto::Hasher h(crypto::HashAlgorithm::sha384);
  const std::span<const std::byte> all(uki);
  h.update(all.first(pe.checksum_offset));
  h.update(all.subspan(pe.checksum_offset + 4, pe.security_entry_offset - pe.checksum_offset - 4));
  h.update(all.subspan(pe.security_entry_offset + 8));
  EXPECT_EQ(to_hex(authenticode_sha384(uki)), to_hex(h.final()));
}

// ---- Oracles: python3-pefile and osslsigncode (Debian packages) ----

// Prints, as JSON, what pefile reads: headers, every section with a SHA-256
// of its VirtualSize bytes, whether its raw padding is zero, and .sdmagic.
constexpr std::string_view k_pefile_oracle = R"PY(
import hashlib, json, re, sys
import pefile
data = open(sys.argv[1], 'rb').read()
pe = pefile.PE(data=data, fast_load=True)
fh, oh = pe.FILE_HEADER, pe.OPTIONAL_HEADER
out = {
    'warnings': pe.get_warnings(),
    'machine': fh.Machine, 'magic': oh.Magic, 'file_size': len(data),
    'number_of_sections': fh.NumberOfSections, 'time_date_stamp': fh.TimeDateStamp,
    'pointer_to_symbol_table': fh.PointerToSymbolTable, 'number_of_symbols': fh.NumberOfSymbols,
    'characteristics': fh.Characteristics,
    'section_alignment': oh.SectionAlignment, 'file_alignment': oh.FileAlignment,
    'size_of_image': oh.SizeOfImage, 'size_of_headers': oh.SizeOfHeaders,
    'size_of_initialized_data': oh.SizeOfInitializedData, 'checksum': oh.CheckSum,
    'sections': [], 'loader_info': None,
}
for s in pe.sections:
    name = s.Name.rstrip(b'\0').decode('ascii', 'replace')
    p, raw, vs = s.PointerToRawData, s.SizeOfRawData, s.Misc_VirtualSize
    out['sections'].append({
        'name': name, 'virtual_address': s.VirtualAddress, 'virtual_size': vs,
        'pointer_to_raw_data': p, 'size_of_raw_data': raw, 'characteristics': s.Characteristics,
        'sha256': hashlib.sha256(data[p:p + min(vs, raw)]).hexdigest(),
        'raw_sha256': hashlib.sha256(data[p:p + raw]).hexdigest(),
        'padding_is_zero': not any(data[p + vs:p + raw]),
    })
    if name == '.sdmagic':
        m = re.search(rb'#### LoaderInfo: (.*?) ####', s.get_data())
        out['loader_info'] = m.group(1).decode() if m else None
print(json.dumps(out))
)PY";

std::optional<std::string>
python_with_pefile() {
  for (const std::string python : {"/usr/bin/python3", "python3"}) {
    if (python.starts_with("/") && !std::filesystem::exists(python)) {
      continue;
    }
    if (!python.starts_with("/") && !exec::find_program(python)) {
      continue;
    }
    if (exec::run({python, "-c", "import pefile"}).exit_status == 0) {
      return python;
    }
  }
  return std::nullopt;
}

nlohmann::json
pefile_oracle(const std::string &python, const std::filesystem::path &dir, std::span<const std::byte> image) {
  const auto script = dir / "oracle.py";
  const auto file = dir / "image.efi";
  fs::write_file_atomic(script, k_pefile_oracle);
  fs::write_file_atomic(file, image);
  const auto r = exec::run({python, script.string(), file.string()});
  EXPECT_EQ(r.exit_status, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

std::optional<std::vector<std::byte>>
read_real_stub() {
  if (!std::filesystem::exists(k_real_stub)) {
    return std::nullopt;
  }
  return fs::read_file(k_real_stub);
}

// The Debian package's version ("252.39-1~deb12u2"), to check the parsed
// LoaderInfo against something that does not come from the stub's bytes.
std::optional<std::string>
stub_package_version() {
  if (!exec::find_program("dpkg-query")) {
    return std::nullopt;
  }
  const auto r = exec::run({"dpkg-query", "-W", "-f=${Version}", "systemd-boot-efi"});
  if (r.exit_status != 0 || r.out.empty()) {
    return std::nullopt;
  }
  return r.out;
}

TEST(UkiOracle, RealStubUkiCheckedByPefile) {
  const auto stub = read_real_stub();
  if (!stub) {
    GTEST_SKIP() << "skipped: " << k_real_stub << " not found (apt-get install systemd-boot-efi)";
  }
  const auto python = python_with_pefile();
  if (!python) {
    GTEST_SKIP() << "skipped: no python3 with pefile (apt-get install python3-pefile)";
  }
  const auto s = sample_sections();
  const auto uki = assemble_uki(*stub, s);
  expect_ukify_layout(*stub, uki, s);

  fs::TempDir dir("cvm-uki");
  const auto before = pefile_oracle(*python, dir.path(), *stub);
  const auto after = pefile_oracle(*python, dir.path(), uki);
  EXPECT_TRUE(after["warnings"].empty()) << after["warnings"].dump();
  EXPECT_EQ(after["machine"], 0x8664);
  EXPECT_EQ(after["magic"], 0x20b);
  EXPECT_EQ(after["time_date_stamp"], before["time_date_stamp"]);
  EXPECT_EQ(after["checksum"], 0);
  const std::uint64_t sa = after["section_alignment"];
  const std::uint64_t fa = after["file_alignment"];
  EXPECT_EQ(sa, before["section_alignment"].get<std::uint64_t>());
  EXPECT_EQ(fa, before["file_alignment"].get<std::uint64_t>());
  EXPECT_EQ(after["size_of_headers"], before["size_of_headers"]);

  const auto added = expected_added(s);
  const auto &bs = before["sections"];
  const auto &as = after["sections"];
  ASSERT_EQ(as.size(), bs.size() + added.size());
  EXPECT_EQ(after["number_of_sections"], as.size());
  for (std::size_t i = 0; i < bs.size(); ++i) {
    EXPECT_EQ(as[i], bs[i]) << "stub section " << i << " changed";
  }
  std::uint64_t init_data = before["size_of_initialized_data"];
  for (std::size_t i = 0; i < added.size(); ++i) {
    const auto &sec = as[bs.size() + i];
    const auto &prev = as[bs.size() + i - 1];
    SCOPED_TRACE(added[i].first);
    const std::uint64_t va = sec["virtual_address"], vs = sec["virtual_size"];
    const std::uint64_t ptr = sec["pointer_to_raw_data"], raw = sec["size_of_raw_data"];
    EXPECT_EQ(sec["name"], added[i].first);
    EXPECT_EQ(vs, added[i].second.size());
    EXPECT_EQ(va % sa, 0U);
    EXPECT_EQ(
        va,
        round_up(prev["virtual_address"].get<std::uint64_t>() + prev["virtual_size"].get<std::uint64_t>(),
                 sa));
    EXPECT_EQ(ptr % fa, 0U);
    EXPECT_EQ(raw, round_up(vs, fa));
    EXPECT_EQ(sec["padding_is_zero"], true);
    EXPECT_EQ(sec["sha256"], to_hex(crypto::sha256(added[i].second)));
    EXPECT_EQ(sec["characteristics"], added[i].first == ".linux" ? 0x40000020 : 0x40000040);
    init_data += vs;
  }
  const auto &last = as.back();
  EXPECT_EQ(
      after["size_of_image"],
      round_up(last["virtual_address"].get<std::uint64_t>() + last["virtual_size"].get<std::uint64_t>(), sa));
  EXPECT_EQ(after["file_size"],
            last["pointer_to_raw_data"].get<std::uint64_t>() + last["size_of_raw_data"].get<std::uint64_t>());
  EXPECT_EQ(after["size_of_initialized_data"], init_data);
  EXPECT_EQ(after["pointer_to_symbol_table"], 0);
  EXPECT_EQ(after["number_of_symbols"], 0);
  EXPECT_EQ(after["characteristics"], before["characteristics"]);

  const auto info = parse_uki(uki);
  ASSERT_FALSE(before["loader_info"].is_null()) << "pefile found no .sdmagic LoaderInfo in the stub";
  EXPECT_EQ(info.stub_version, before["loader_info"].get<std::string>());
  for (const auto &[name, data] : added) {
    EXPECT_EQ(info.sections.at(name), data) << name;
  }
  if (const auto version = stub_package_version()) {
    EXPECT_EQ(info.stub_version, "systemd-stub " + *version);
    EXPECT_EQ(systemd_stub_major(info), std::stoi(*version));
  }
  EXPECT_EQ(assemble_uki(*stub, s), uki) << "not reproducible";
}

// osslsigncode extract-data writes the SpcIndirectDataContent it would sign:
// its DigestInfo holds the file's Authenticode digest, computed by an
// implementation that shares nothing with measurement/pe.cpp.
std::optional<std::string>
osslsigncode_sha384(const std::filesystem::path &dir, std::span<const std::byte> image) {
  const auto in = dir / "in.efi";
  const auto out = dir / "data.der";
  std::filesystem::remove(out);
  fs::write_file_atomic(in, image);
  const auto r =
      exec::run({"osslsigncode", "extract-data", "-h", "sha384", "-in", in.string(), "-out", out.string()});
  EXPECT_EQ(r.exit_status, 0) << r.out << r.err;
  const auto der = fs::read_file(out);
  // AlgorithmIdentifier { sha384, NULL } followed by OCTET STRING (48 bytes).
  const auto marker = test::bytes_of_hex("0609608648016503040202050004"
                                         "30");
  const auto at = std::search(der.begin(), der.end(), marker.begin(), marker.end());
  if (at == der.end() || der.end() - at < static_cast<std::ptrdiff_t>(marker.size() + 48)) {
    ADD_FAILURE() << "no SHA-384 DigestInfo in osslsigncode's output";
    return std::nullopt;
  }
  const auto digest = at + static_cast<std::ptrdiff_t>(marker.size());
  return to_hex(std::span(&*digest, 48));
}

TEST(UkiOracle, AuthenticodeSha384MatchesOsslsigncode) {
  if (!exec::find_program("osslsigncode")) {
    GTEST_SKIP() << "skipped: osslsigncode not found (apt-get install osslsigncode)";
  }
  if (exec::run({"osslsigncode", "--help"}).out.find("extract-data") == std::string::npos) {
    GTEST_SKIP() << "skipped: this osslsigncode has no extract-data command";
  }
  fs::TempDir dir("cvm-uki");
  const auto synthetic = assemble_uki(make_stub(), sample_sections());
  EXPECT_EQ(osslsigncode_sha384(dir.path(), synthetic), to_hex(authenticode_sha384(synthetic)));
  const auto stub = read_real_stub();
  if (!stub) {
    GTEST_SKIP() << "skipped (synthetic stub checked): " << k_real_stub
                 << " not found (apt-get install systemd-boot-efi)";
  }
  const auto uki = assemble_uki(*stub, sample_sections());
  EXPECT_EQ(osslsigncode_sha384(dir.path(), uki), to_hex(authenticode_sha384(uki)));
}

} // namespace
} // namespace cvm::measure
