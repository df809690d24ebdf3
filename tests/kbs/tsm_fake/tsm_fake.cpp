// SPDX-License-Identifier: Apache-2.0
// TEST TOOL: a FUSE fake of the Linux configfs-tsm report interface
// (/sys/kernel/config/tsm/report), so the agent's TDX evidence path runs end to
// end without TDX hardware (configfs-tsm cannot be faked with plain files: the
// report is generated when outblob is read). Mount it, point the test-flavour
// agent's "test.tsm_report_root" at <mountpoint>/report, and every outblob read
// returns a synthetic TDX v4 quote whose REPORTDATA is the last inblob. The
// quote is unsigned: only REPORTDATA-checking verifiers accept it.
// <mountpoint>/measurements/rtmr3:sha384 fakes the tdx_guest sysfs RTMR3
// (Linux >= 6.16): a 48-byte write extends it (SHA-384 of old value and the
// data), and the quotes carry its current value.
//
//   tsm_fake [--fault none|empty|wrong-provider|race|wrong-reportdata|rtmr3-stuck] MOUNTPOINT
//   (rtmr3-stuck: writes to rtmr3 succeed but do not extend it)
//
// Runs in the foreground, single-threaded; SIGTERM unmounts and exits.
#define FUSE_USE_VERSION 31
#include <openssl/evp.h>

#include <fuse.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

enum class Fault { none, empty, wrong_provider, race, wrong_reportdata, rtmr3_stuck };

Fault g_fault = Fault::none;

struct Report {
  std::vector<std::uint8_t> inblob;
  unsigned generation = 0;
};

std::map<std::string, Report> g_reports;
std::array<std::uint8_t, 48> g_rtmr3{};

constexpr std::string_view k_report_dir = "/report";
constexpr std::string_view k_measurements_dir = "/measurements";
constexpr std::string_view k_rtmr3 = "/measurements/rtmr3:sha384";
constexpr const char *k_attributes[] = {"provider", "generation", "inblob", "outblob"};

struct Parsed {
  enum class Kind { root, report_dir, entry_dir, attribute, measurements_dir, rtmr3, none } kind = Kind::none;
  std::string entry;
  std::string attribute;
};

Parsed
parse(std::string_view path) {
  Parsed p;
  if (path == "/") {
    p.kind = Parsed::Kind::root;
    return p;
  }
  if (path == k_report_dir) {
    p.kind = Parsed::Kind::report_dir;
    return p;
  }
  if (path == k_measurements_dir) {
    p.kind = Parsed::Kind::measurements_dir;
    return p;
  }
  if (path == k_rtmr3) {
    p.kind = Parsed::Kind::rtmr3;
    return p;
  }
  if (path.substr(0, k_report_dir.size() + 1) != "/report/") {
    return p;
  }
  std::string_view rest = path.substr(k_report_dir.size() + 1);
  const std::size_t slash = rest.find('/');
  p.entry = std::string(rest.substr(0, slash));
  if (slash == std::string_view::npos) {
    p.kind = Parsed::Kind::entry_dir;
    return p;
  }
  p.attribute = std::string(rest.substr(slash + 1));
  p.kind = Parsed::Kind::attribute;
  return p;
}

bool
known_attribute(const std::string &name) {
  for (const char *a : k_attributes) {
    if (name == a) {
      return true;
    }
  }
  return false;
}

void
put_le(std::vector<std::uint8_t> &q, std::size_t offset, std::uint64_t value, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    q[offset + i] = static_cast<std::uint8_t>((value >> (8 * i)) & 0xffU);
  }
}

// A TDX quote v4: 48-byte header, 584-byte TD report body (REPORTDATA at
// body offset 520), a 4-byte signature-data length and 64 dummy bytes.
std::vector<std::uint8_t>
synthetic_quote(const Report &report) {
  if (g_fault == Fault::empty) {
    return {};
  }
  std::vector<std::uint8_t> q(48 + 584 + 4 + 64, 0);
  put_le(q, 0, 4, 2);
  put_le(q, 2, 2, 2);
  put_le(q, 4, 0x81, 4);
  const std::uint8_t vendor[16] = {
      0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
  std::memcpy(q.data() + 12, vendor, sizeof vendor);
  for (std::size_t i = 0; i < 48; ++i) {
    q[48 + 136 + i] = 0x42; // MRTD pattern
  }
  std::memcpy(q.data() + 48 + 472, g_rtmr3.data(), g_rtmr3.size()); // RTMR3
  std::memcpy(q.data() + 48 + 520, report.inblob.data(), std::min<std::size_t>(64, report.inblob.size()));
  if (g_fault == Fault::wrong_reportdata) {
    q[48 + 520] ^= 0xffU;
  }
  put_le(q, 48 + 584, 64, 4);
  return q;
}

std::string
attribute_text(const Report &report, const std::string &attribute) {
  if (attribute == "provider") {
    return g_fault == Fault::wrong_provider ? "sev_guest\n" : "tdx_guest\n";
  }
  if (attribute == "generation") {
    return std::to_string(report.generation) + "\n";
  }
  return {};
}

int
fake_getattr(const char *path, struct stat *st, struct fuse_file_info * /*fi*/) {
  std::memset(st, 0, sizeof *st);
  const Parsed p = parse(path);
  switch (p.kind) {
  case Parsed::Kind::root:
  case Parsed::Kind::report_dir:
  case Parsed::Kind::measurements_dir:
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  case Parsed::Kind::rtmr3:
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = 4096; // like sysfs
    return 0;
  case Parsed::Kind::entry_dir:
    if (g_reports.count(p.entry) == 0) {
      return -ENOENT;
    }
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  case Parsed::Kind::attribute:
    if (g_reports.count(p.entry) == 0 || !known_attribute(p.attribute)) {
      return -ENOENT;
    }
    st->st_mode = S_IFREG | (p.attribute == "inblob" ? 0200 : 0444);
    st->st_nlink = 1;
    st->st_size = 4096; // like configfs
    return 0;
  case Parsed::Kind::none:
    break;
  }
  return -ENOENT;
}

int
fake_readdir(const char *path,
             void *buf,
             fuse_fill_dir_t filler,
             off_t /*offset*/,
             struct fuse_file_info * /*fi*/,
             enum fuse_readdir_flags /*flags*/) {
  const Parsed p = parse(path);
  filler(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  filler(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  if (p.kind == Parsed::Kind::root) {
    filler(buf, "report", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
    filler(buf, "measurements", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  } else if (p.kind == Parsed::Kind::measurements_dir) {
    filler(buf, "rtmr3:sha384", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  } else if (p.kind == Parsed::Kind::report_dir) {
    for (const auto &entry : g_reports) {
      filler(buf, entry.first.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
    }
  } else if (p.kind == Parsed::Kind::entry_dir && g_reports.count(p.entry) != 0) {
    for (const char *a : k_attributes) {
      filler(buf, a, nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
    }
  } else {
    return -ENOENT;
  }
  return 0;
}

int
fake_mkdir(const char *path, mode_t /*mode*/) {
  const Parsed p = parse(path);
  if (p.kind != Parsed::Kind::entry_dir) {
    return -EPERM;
  }
  if (g_reports.count(p.entry) != 0) {
    return -EEXIST;
  }
  g_reports[p.entry] = Report{};
  return 0;
}

int
fake_rmdir(const char *path) {
  const Parsed p = parse(path);
  if (p.kind != Parsed::Kind::entry_dir || g_reports.erase(p.entry) == 0) {
    return -ENOENT;
  }
  return 0;
}

int
fake_open(const char *path, struct fuse_file_info *fi) {
  const Parsed p = parse(path);
  if (p.kind == Parsed::Kind::rtmr3) {
    fi->direct_io = 1;
    return 0;
  }
  if (p.kind != Parsed::Kind::attribute || g_reports.count(p.entry) == 0 || !known_attribute(p.attribute)) {
    return -ENOENT;
  }
  fi->direct_io = 1; // sizes are fake; reads must reach us
  return 0;
}

int
fake_truncate(const char * /*path*/, off_t /*size*/, struct fuse_file_info * /*fi*/) {
  return 0;
}

// A read of `size` bytes at `offset` from `data`.
int
read_from(std::span<const std::uint8_t> data, char *buf, size_t size, off_t offset) {
  if (static_cast<std::size_t>(offset) >= data.size()) {
    return 0;
  }
  const std::size_t n = std::min(size, data.size() - static_cast<std::size_t>(offset));
  std::memcpy(buf, data.data() + offset, n);
  return static_cast<int>(n);
}

// Like the kernel's tdx_guest sysfs attribute: exactly one digest, written at
// once, extends the register.
int
extend_rtmr3(const char *buf, size_t size, off_t offset) {
  if (offset != 0 || size != g_rtmr3.size()) {
    return -EINVAL;
  }
  if (g_fault == Fault::rtmr3_stuck) {
    return static_cast<int>(size);
  }
  std::array<std::uint8_t, 96> input{};
  std::memcpy(input.data(), g_rtmr3.data(), g_rtmr3.size());
  std::memcpy(input.data() + g_rtmr3.size(), buf, size);
  unsigned int out_len = 0;
  if (EVP_Digest(input.data(), input.size(), g_rtmr3.data(), &out_len, EVP_sha384(), nullptr) != 1) {
    return -EIO;
  }
  return static_cast<int>(size);
}

int
fake_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info * /*fi*/) {
  const Parsed p = parse(path);
  if (p.kind == Parsed::Kind::rtmr3) {
    return read_from(g_rtmr3, buf, size, offset);
  }
  auto it = g_reports.find(p.entry);
  if (p.kind != Parsed::Kind::attribute || it == g_reports.end()) {
    return -ENOENT;
  }
  std::vector<std::uint8_t> data;
  if (p.attribute == "outblob") {
    if (it->second.inblob.empty()) {
      return -EINVAL;
    }
    data = synthetic_quote(it->second);
    if (g_fault == Fault::race && offset == 0) {
      ++it->second.generation; // another writer got in between
    }
  } else if (p.attribute == "inblob") {
    return -EACCES;
  } else {
    const std::string text = attribute_text(it->second, p.attribute);
    data.assign(text.begin(), text.end());
  }
  return read_from(data, buf, size, offset);
}

int
fake_write(const char *path, const char *buf, size_t size, off_t offset, struct fuse_file_info * /*fi*/) {
  const Parsed p = parse(path);
  if (p.kind == Parsed::Kind::rtmr3) {
    return extend_rtmr3(buf, size, offset);
  }
  auto it = g_reports.find(p.entry);
  if (p.kind != Parsed::Kind::attribute || it == g_reports.end() || p.attribute != "inblob") {
    return -EACCES;
  }
  // The TDX provider takes exactly 64 bytes in one write.
  if (offset != 0 || size != 64) {
    return -EINVAL;
  }
  it->second.inblob.assign(buf, buf + size);
  ++it->second.generation;
  return static_cast<int>(size);
}

void *
fake_init(struct fuse_conn_info * /*conn*/, struct fuse_config *cfg) {
  cfg->direct_io = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  return nullptr;
}

} // namespace

int
main(int argc, char **argv) {
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--fault" && i + 1 < argc) {
      const std::string_view f = argv[++i];
      if (f == "none") {
        g_fault = Fault::none;
      } else if (f == "empty") {
        g_fault = Fault::empty;
      } else if (f == "wrong-provider") {
        g_fault = Fault::wrong_provider;
      } else if (f == "race") {
        g_fault = Fault::race;
      } else if (f == "wrong-reportdata") {
        g_fault = Fault::wrong_reportdata;
      } else if (f == "rtmr3-stuck") {
        g_fault = Fault::rtmr3_stuck;
      } else {
        std::fprintf(stderr, "tsm_fake: unknown fault\n");
        return 2;
      }
    } else {
      rest.emplace_back(arg);
    }
  }
  if (rest.size() != 1) {
    std::fprintf(stderr, "usage: tsm_fake [--fault MODE] MOUNTPOINT\n");
    return 2;
  }
  struct fuse_operations ops {};
  ops.init = fake_init;
  ops.getattr = fake_getattr;
  ops.readdir = fake_readdir;
  ops.mkdir = fake_mkdir;
  ops.rmdir = fake_rmdir;
  ops.open = fake_open;
  ops.truncate = fake_truncate;
  ops.read = fake_read;
  ops.write = fake_write;
  std::string prog = "tsm_fake";
  std::string fg = "-f";
  std::string single = "-s";
  std::vector<char *> fuse_argv = {prog.data(), fg.data(), single.data(), rest[0].data()};
  return fuse_main(static_cast<int>(fuse_argv.size()), fuse_argv.data(), &ops, nullptr);
}
