// SPDX-License-Identifier: Apache-2.0
#include "measurement/boot_inputs.hpp"

#include "lib/util/error.hpp"
#include "lib/util/hex.hpp"
#include "measurement/eventlog.hpp"
#include "measurement/uki.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <utility>

namespace cvm::measure {

namespace {

namespace stdfs = std::filesystem;

std::string
as_text(const std::vector<std::byte> &bytes) {
  return {reinterpret_cast<const char *>(bytes.data()), bytes.size()}; // NOLINT
}

// Reads the files of one boot: a given path must exist; otherwise the first
// of `names` that exists in the artifacts directory, if any.
class Finder {
public:
  Finder(stdfs::path dir, const ReadFile &read)
    : m_dir(std::move(dir))
    , m_read(read) {}

  std::optional<std::vector<std::byte>>
  given(const stdfs::path &path) const {
    if (path.empty()) {
      return std::nullopt;
    }
    auto bytes = m_read(path);
    if (!bytes) {
      throw Error(ErrorKind::input, "cannot open {}: No such file or directory", path.string());
    }
    return bytes;
  }

  // The file's bytes and the path it was read from (empty if none).
  std::pair<std::optional<std::vector<std::byte>>, stdfs::path>
  find(const stdfs::path &path, std::initializer_list<const char *> names) const {
    if (!path.empty()) {
      return {given(path), path};
    }
    if (m_dir.empty()) {
      return {};
    }
    for (const char *name : names) {
      if (auto bytes = m_read(m_dir / name)) {
        return {std::move(bytes), m_dir / name};
      }
    }
    return {};
  }

  std::optional<std::vector<std::byte>>
  bytes(const stdfs::path &path, std::initializer_list<const char *> names) const {
    return find(path, names).first;
  }

private:
  stdfs::path m_dir;
  const ReadFile &m_read;
};

GrubRecord::Kind
grub_kind(const std::string &kind) {
  if (kind == "command") {
    return GrubRecord::Kind::command;
  }
  if (kind == "kernel_cmdline") {
    return GrubRecord::Kind::kernel_cmdline;
  }
  if (kind == "module_cmdline") {
    return GrubRecord::Kind::module_cmdline;
  }
  if (kind == "file") {
    return GrubRecord::Kind::file;
  }
  throw Error(ErrorKind::usage, "grub records: unknown kind \"{}\"", kind);
}

std::vector<GrubRecord>
grub_records(const std::vector<std::byte> &json, const stdfs::path &path, const Finder &finder) {
  std::vector<GrubRecord> records;
  const stdfs::path base = path.parent_path();
  for (const auto &r : nlohmann::json::parse(as_text(json))) {
    GrubRecord rec;
    rec.kind = grub_kind(r.at("kind").get<std::string>());
    rec.text = r.at("text").get<std::string>();
    if (rec.kind == GrubRecord::Kind::file) {
      const stdfs::path f = r.at("file").get<std::string>();
      rec.bytes = *finder.given(f.is_absolute() ? f : base / f);
    }
    records.push_back(std::move(rec));
  }
  return records;
}

std::map<std::string, crypto::Sha384>
mok_digests(const std::vector<std::byte> &json) {
  std::map<std::string, crypto::Sha384> out;
  for (const auto &[name, hex] : nlohmann::json::parse(as_text(json)).items()) {
    const auto d = from_hex(hex.get<std::string>());
    if (!d || d->size() != crypto::Sha384{}.size()) {
      throw Error(ErrorKind::usage, "--mok-digests: {} is not a SHA-384 hex digest", name);
    }
    crypto::Sha384 digest{};
    std::copy(d->begin(), d->end(), digest.begin());
    out[name] = digest;
  }
  return out;
}

void
load_uki(BootArtifacts &a, const BootFiles &files, const Finder &finder) {
  auto [uki, uki_path] = finder.find(files.uki, {"uki.efi"});
  if (!uki) {
    throw Error(ErrorKind::usage,
                "--boot uki needs the unified kernel image (--uki FILE or --artifacts DIR)");
  }
  a.uki = std::move(uki);
  UkiInfo info;
  try {
    info = parse_uki(*a.uki);
  } catch (const Error &e) {
    throw e.with_context(uki_path.string());
  }
  a.systemd_stub_version = systemd_stub_major(info);
  const std::string name = uki_path.filename().string();
  const auto linux_section = info.sections.find(".linux");
  if (linux_section == info.sections.end()) {
    throw Error(ErrorKind::input, "{}: the UKI has no .linux section", uki_path.string());
  }
  a.kernel = linux_section->second;
  a.kernel_name = name + ":.linux";
  if (const auto it = info.sections.find(".initrd"); it != info.sections.end()) {
    a.initrd = it->second;
    a.initrd_name = name + ":.initrd";
  }
  if (const auto it = info.sections.find(".cmdline"); it != info.sections.end()) {
    a.cmdline = as_text(it->second);
  }
  a.disk_head = finder.bytes(files.disk_head, {"disk-head.bin"});
}

void
load_grub(BootArtifacts &a, const BootFiles &files, const Finder &finder) {
  // Removable-path layout, as the build extracts it: with shim, BOOTX64.EFI
  // is shim and grubx64.efi sits next to it; without shim, BOOTX64.EFI is
  // grub itself.
  a.grub = finder.bytes(files.grub, {"grubx64.efi"});
  if (a.grub) {
    a.shim = finder.bytes(files.shim, {"shimx64.efi", "BOOTX64.EFI"});
  } else {
    a.grub = finder.bytes({}, {"BOOTX64.EFI"});
    a.shim = finder.bytes(files.shim, {"shimx64.efi"});
  }
  a.fallback = finder.bytes(files.fallback, {"fbx64.efi"});
  a.shim_fallback_run = files.shim_fallback_run;
  a.disk_head = finder.bytes(files.disk_head, {"disk-head.bin"});
  if (const auto sbat = finder.bytes(files.sbat_level, {"SbatLevel.txt"})) {
    a.sbat_level = as_text(*sbat);
  }
  a.grub_flavor = files.grub_flavor;
  try {
    if (auto [records, path] = finder.find(files.grub_records, {"grub-records.json"}); records) {
      a.grub_records = grub_records(*records, path, finder);
    }
    if (const auto mok = finder.bytes(files.mok_digests, {})) {
      a.mok_digests = mok_digests(*mok);
    }
  } catch (const nlohmann::json::exception &e) {
    throw Error(ErrorKind::usage, "grub records / MOK digests: {}", e.what());
  }
}

} // namespace

BootArtifacts
load_boot_artifacts(const BootFiles &files, const ReadFile &read) {
  const Finder finder(files.artifacts_dir, read);
  BootArtifacts a;
  a.mode = files.mode;
  if (a.mode == BootMode::uki) {
    load_uki(a, files, finder);
    return a;
  }
  auto [kernel, kernel_path] = finder.find(files.kernel, {"vmlinuz", "kernel"});
  if (!kernel) {
    throw Error(ErrorKind::usage, "a kernel is required (--kernel FILE or --artifacts DIR)");
  }
  a.kernel = std::move(*kernel);
  a.kernel_name = kernel_path.filename().string();
  if (auto [initrd, initrd_path] = finder.find(files.initrd, {"initrd.img", "initrd"}); initrd) {
    a.initrd = std::move(initrd);
    a.initrd_name = initrd_path.filename().string();
  }
  if (files.cmdline) {
    a.cmdline = *files.cmdline;
  } else if (const auto text = finder.bytes({}, {"cmdline"})) {
    a.cmdline = as_text(*text);
    while (!a.cmdline.empty() && (a.cmdline.back() == '\n' || a.cmdline.back() == '\r')) {
      a.cmdline.pop_back();
    }
  }
  a.linux_version = files.linux_version;
  if (a.mode == BootMode::grub) {
    load_grub(a, files, finder);
  }
  return a;
}

PlatformProfile
load_platform_profile(const std::filesystem::path &path, const ReadFile &read) {
  const Finder finder({}, read);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(as_text(*finder.given(path)));
  } catch (const nlohmann::json::exception &e) {
    throw Error(ErrorKind::usage, "platform profile {}: not JSON: {}", path.string(), e.what());
  }
  const stdfs::path base = path.parent_path();
  return parse_platform_profile(json, [&](const std::string &name) {
    const stdfs::path p(name);
    return *finder.given(p.is_absolute() ? p : base / p);
  });
}

void
adopt_reference_log_file(PlatformProfile &profile, const std::filesystem::path &path, const ReadFile &read) {
  try {
    adopt_reference_log(profile, parse_event_log(*Finder({}, read).given(path)));
  } catch (const Error &e) {
    throw e.with_context(path.string());
  }
}

} // namespace cvm::measure
