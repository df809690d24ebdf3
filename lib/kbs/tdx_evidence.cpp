// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/tdx_evidence.hpp"

#include "lib/crypto/crypto.hpp"
#include "lib/kbs/protocol.hpp"
#include "lib/kbs/tdx_quote.hpp"
#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "lib/util/log.hpp"
#include "measurement/eventlog.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

namespace cvm::kbs {

namespace {

constexpr std::size_t k_max_quote_size = std::size_t{1} << 20U;
constexpr std::size_t k_max_ccel_size = std::size_t{16} << 20U;
constexpr std::string_view k_default_tsm_root = "/sys/kernel/config/tsm/report";

std::vector<std::byte>
read_all(const std::filesystem::path &path, std::size_t max_size) {
  const fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw Error(ErrorKind::io, "open {}: {}", path.string(), fs::errno_text(errno));
  }
  return fs::read_to_end(fd.get(), max_size, path.string());
}

std::string
read_attribute(const std::filesystem::path &path) {
  const auto bytes = read_all(path, 4096);
  std::string text(reinterpret_cast<const char *>(bytes.data()), bytes.size()); // NOLINT
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) {
    text.pop_back();
  }
  return text;
}

unsigned long
read_generation(const std::filesystem::path &dir) {
  const std::string text = read_attribute(dir / "generation");
  unsigned long value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size()) {
    throw Error(ErrorKind::input, "configfs-tsm generation is not a number");
  }
  return value;
}

void
write_all(const std::filesystem::path &path, std::span<const std::byte> data) {
  const fs::Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    throw Error(ErrorKind::io, "open {}: {}", path.string(), fs::errno_text(errno));
  }
  // configfs binary attributes take the whole blob in one write.
  const ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n < 0 || static_cast<std::size_t>(n) != data.size()) {
    throw Error(ErrorKind::io,
                "write {}: {}",
                path.string(),
                n < 0 ? fs::errno_text(errno) : std::string("short write"));
  }
}

// A report directory that is removed again (configfs entries are rmdir'ed).
class ReportDir {
public:
  explicit ReportDir(const std::filesystem::path &root) {
    const auto suffix = crypto::random_bytes(8);
    m_path = root / fmt::format("cvmforge-{}-{}", ::getpid(), to_hex(suffix));
    if (::mkdir(m_path.c_str(), 0700) != 0) {
      throw Error(ErrorKind::input, "configfs-tsm: mkdir {}: {}", m_path.string(), fs::errno_text(errno));
    }
  }
  ReportDir(const ReportDir &) = delete;
  ReportDir &operator=(const ReportDir &) = delete;
  ReportDir(ReportDir &&) = delete;
  ReportDir &operator=(ReportDir &&) = delete;
  ~ReportDir() {
    if (::rmdir(m_path.c_str()) != 0) {
      log::debug("configfs-tsm: rmdir {}: {}", m_path.string(), fs::errno_text(errno));
    }
  }
  const std::filesystem::path &
  path() const noexcept {
    return m_path;
  }

private:
  std::filesystem::path m_path;
};

void
require_tdx_provider(const std::filesystem::path &dir) {
  const std::string provider = read_attribute(dir / "provider");
  if (provider != "tdx_guest") {
    throw Error(ErrorKind::input, "configfs-tsm provider is '{}', not tdx_guest", provider);
  }
}

} // namespace

std::vector<std::byte>
tsm_quote(const std::filesystem::path &tsm_report_root, const std::array<std::byte, 64> &report_data) {
  const ReportDir dir(tsm_report_root);
  require_tdx_provider(dir.path());
  const unsigned long before = read_generation(dir.path());
  write_all(dir.path() / "inblob", report_data);
  std::vector<std::byte> quote = read_all(dir.path() / "outblob", k_max_quote_size);
  const unsigned long after = read_generation(dir.path());
  if (after != before + 1) {
    throw Error(ErrorKind::input,
                "configfs-tsm generation went from {} to {}: another writer raced this report",
                before,
                after);
  }
  if (quote.empty()) {
    throw Error(ErrorKind::input,
                "configfs-tsm returned an empty quote (is the host's quote generation service "
                "reachable?)");
  }
  return quote;
}

TdxEvidenceProvider::TdxEvidenceProvider(TdxPaths paths)
  : m_paths(std::move(paths)) {}

std::string
TdxEvidenceProvider::tee() const {
  return "tdx";
}

void
TdxEvidenceProvider::preflight() {
  std::error_code ec;
  if (!std::filesystem::is_directory(m_paths.tsm_report_root, ec) &&
      m_paths.tsm_report_root == k_default_tsm_root) {
    // The initramfs may not have configfs mounted yet.
    if (::mount("configfs", "/sys/kernel/config", "configfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
        0) {
      log::debug("mount configfs: {}", fs::errno_text(errno));
    }
  }
  if (!std::filesystem::is_directory(m_paths.tsm_report_root, ec)) {
    throw Error(ErrorKind::input,
                "{} does not exist: no configfs-tsm (kernel without TSM_REPORTS / not a TD)",
                m_paths.tsm_report_root.string());
  }
  const ReportDir dir(m_paths.tsm_report_root);
  require_tdx_provider(dir.path());
}

nlohmann::json
TdxEvidenceProvider::primary_evidence(std::span<const std::byte> digest) {
  const auto report_data = tdx_report_data(digest);
  const std::vector<std::byte> quote = tsm_quote(m_paths.tsm_report_root, report_data);
  if (tdx_quote_report_data(quote) != report_data) {
    throw Error(ErrorKind::input, "the TDX quote's REPORTDATA differs from the one requested");
  }

  nlohmann::json eventlog = nullptr;
  std::error_code ec;
  if (std::filesystem::exists(m_paths.ccel, ec)) {
    std::vector<std::byte> ccel = measure::trim_ccel(read_all(m_paths.ccel, k_max_ccel_size));
    // End-of-log marker, as the reference attester appends it.
    ccel.insert(ccel.end(), 8, std::byte{0xff});
    eventlog = base64_encode(ccel);
  } else {
    log::warning("no CC event log at {}; the KBS policy may reject the evidence", m_paths.ccel.string());
  }
  return nlohmann::json{{"cc_eventlog", eventlog}, {"quote", base64_encode(quote)}};
}

const std::array<std::byte, 48> &
rtmr3_release_marker() {
  static const std::array<std::byte, 48> marker = [] {
    constexpr std::string_view text = "cvmforge: disk key released, leaving the initramfs";
    return crypto::sha384(std::as_bytes(std::span(text.data(), text.size())));
  }();
  return marker;
}

bool
extend_rtmr(const std::filesystem::path &register_file, std::span<const std::byte, 48> digest) {
  // Only "not there" means unavailable; any other failure to look (e.g.
  // EACCES) must not quietly leave the window open.
  struct stat st {};
  if (::stat(register_file.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return false;
    }
    throw Error(ErrorKind::io, "stat {}: {}", register_file.string(), fs::errno_text(errno));
  }
  const auto read_register = [&register_file] {
    auto value = read_all(register_file, 4096);
    if (value.size() != 48) {
      throw Error(
          ErrorKind::input, "{} holds {} bytes, not a SHA-384 digest", register_file.string(), value.size());
    }
    return value;
  };
  const auto before = read_register();
  // The kernel takes exactly one digest in one write.
  write_all(register_file, digest);
  std::array<std::byte, 96> chained{};
  std::copy(before.begin(), before.end(), chained.begin());
  std::copy(digest.begin(), digest.end(), chained.begin() + 48);
  const auto expected = crypto::sha384(chained);
  const auto after = read_register();
  if (!std::equal(after.begin(), after.end(), expected.begin(), expected.end())) {
    throw Error(ErrorKind::input,
                "{} did not extend: it reads {} after the write, expected {}",
                register_file.string(),
                to_hex(after),
                to_hex(expected));
  }
  return true;
}

bool
TdxEvidenceProvider::close_release_window() {
  return extend_rtmr(m_paths.measurements / "rtmr3:sha384", rtmr3_release_marker());
}

} // namespace cvm::kbs
