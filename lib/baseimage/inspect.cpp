// SPDX-License-Identifier: Apache-2.0
#include "lib/baseimage/inspect.hpp"

#include "lib/baseimage/policy.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace cvm::baseimage {

using guestfs::FilesystemEntry;
using guestfs::FsUsage;
using guestfs::Guest;
using guestfs::OsInfo;
using guestfs::ReadOnly;
using guestfs::Session;
using guestfs::SessionOptions;

std::string
gpt_type_name(std::string_view guid) {
  // The types a cvmforge image or a common Linux base image has (UEFI spec,
  // Discoverable Partitions Specification).
  static const std::pair<std::string_view, std::string_view> k_names[] = {
      {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI system partition (ESP)"},
      {"0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem"},
      {"CA7D7CCB-63ED-4C53-861C-1742536059CC", "LUKS"},
      {"BC13C2FF-59E6-4262-A352-B275FD6F7172", "Linux extended boot (/boot)"},
      {"4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "Linux root (x86-64)"},
      {"21686148-6449-6E6F-744E-656564454649", "BIOS boot"},
      {"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "Linux swap"},
      {"E6D6D379-F507-44C2-A23C-238F2A3DF928", "Linux LVM"},
  };
  std::string upper(guid);
  for (char &c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (const auto &[g, name] : k_names) {
    if (upper == g) {
      return std::string(name);
    }
  }
  return std::string(guid);
}

namespace {

bool
is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool
ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) {
    return false;
  }
  return std::equal(
      suffix.begin(), suffix.end(), s.end() - static_cast<std::ptrdiff_t>(suffix.size()), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      });
}

std::string
upper(std::string s) {
  std::transform(
      s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string
join_filesystems(const std::vector<FilesystemEntry> &fss) {
  std::vector<std::string> parts;
  parts.reserve(fss.size());
  for (const auto &f : fss) {
    parts.push_back(fmt::format("{} ({})", f.mountable, f.type));
  }
  return parts.empty() ? std::string("none") : fmt::format("{}", fmt::join(parts, ", "));
}

bool
any_exists(Guest &guest, std::initializer_list<const char *> paths) {
  return std::any_of(paths.begin(), paths.end(), [&guest](const char *p) { return guest.exists(p); });
}

struct EspCandidate {
  std::string device;
  std::string disk;
  int partnum = 0;
};

// part_get_parttype runs parted, which takes seconds under TCG: ask once per disk.
class PartTypeCache {
public:
  explicit PartTypeCache(Guest &guest)
    : m_guest(guest) {}

  const std::string &
  get(const std::string &disk) {
    auto it = m_types.find(disk);
    if (it == m_types.end()) {
      it = m_types.emplace(disk, m_guest.part_get_parttype(disk)).first;
    }
    return it->second;
  }

private:
  Guest &m_guest;
  std::map<std::string, std::string> m_types;
};

std::vector<EspCandidate>
find_esps(Guest &guest,
          PartTypeCache &part_types,
          const std::vector<FilesystemEntry> &filesystems,
          const std::vector<std::string> &partitions) {
  const std::set<std::string> partition_set(partitions.begin(), partitions.end());
  std::vector<EspCandidate> out;
  for (const auto &fs : filesystems) {
    if (fs.type != "vfat" || partition_set.count(fs.mountable) == 0) {
      continue;
    }
    EspCandidate c;
    c.device = fs.mountable;
    c.disk = guest.part_to_dev(fs.mountable);
    c.partnum = guest.part_to_partnum(fs.mountable);
    if (part_types.get(c.disk) != "gpt") {
      continue;
    }
    if (upper(guest.part_get_gpt_type(c.disk, c.partnum)) != k_esp_type_guid) {
      continue;
    }
    out.push_back(std::move(c));
  }
  return out;
}

} // namespace

std::optional<std::string>
kernel_version_from_filename(std::string_view filename) {
  constexpr std::string_view prefix = "vmlinuz-";
  if (filename.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  std::string_view version = filename.substr(prefix.size());
  if (version.empty() || !is_digit(version.front())) {
    return std::nullopt;
  }
  if (version.find('/') != std::string_view::npos || ends_with_ci(version, ".old") ||
      ends_with_ci(version, ".bak") || ends_with_ci(version, ".dpkg-tmp") ||
      ends_with_ci(version, ".efi.signed")) {
    return std::nullopt;
  }
  return std::string(version);
}

int
compare_versions(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      std::size_t ie = i;
      std::size_t je = j;
      while (ie < a.size() && is_digit(a[ie])) {
        ++ie;
      }
      while (je < b.size() && is_digit(b[je])) {
        ++je;
      }
      std::string_view na = a.substr(i, ie - i);
      std::string_view nb = b.substr(j, je - j);
      while (na.size() > 1 && na.front() == '0') {
        na.remove_prefix(1);
      }
      while (nb.size() > 1 && nb.front() == '0') {
        nb.remove_prefix(1);
      }
      if (na.size() != nb.size()) {
        return na.size() < nb.size() ? -1 : 1;
      }
      if (const int c = na.compare(nb); c != 0) {
        return c < 0 ? -1 : 1;
      }
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) {
        return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]) ? -1 : 1;
      }
      ++i;
      ++j;
    }
  }
  if (i < a.size()) {
    return 1;
  }
  if (j < b.size()) {
    return -1;
  }
  return 0;
}

std::vector<std::string>
initrd_candidates(std::string_view version) {
  return {fmt::format("initrd.img-{}", version),
          fmt::format("initramfs-{}.img", version),
          fmt::format("initrd-{}", version)};
}

std::string_view
to_string(Bootloader bootloader) noexcept {
  return bootloader == Bootloader::grub_efi ? "grub-efi" : "unknown";
}

BaseImageFacts
inspect_base(Guest &guest) {
  BaseImageFacts facts;
  const std::vector<FilesystemEntry> filesystems = guest.list_filesystems();
  log::debug("base image filesystems: {}", join_filesystems(filesystems));

  // An encrypted volume hides its OS from inspection, so check this first.
  // list_filesystems() leaves LUKS volumes out (libguestfs 1.48), so ask
  // vfs_type of every partition.
  const std::vector<std::string> partitions = guest.list_partitions();
  for (const std::string &part : partitions) {
    refuse_encrypted_partition(part, guest.vfs_type(part));
  }

  const std::vector<OsInfo> oses = guest.inspect_os();
  const OsInfo &os = require_one_supported_os(oses, join_filesystems(filesystems));
  facts.os_type = os.type;
  facts.distro = os.distro;
  facts.major_version = os.major_version;
  facts.minor_version = os.minor_version;
  facts.product_name = os.product_name;
  facts.mountpoints = os.mountpoints;
  facts.root_device = os.root;

  refuse_btrfs_subvolume_root(os.root);
  facts.root_fs_type = guest.vfs_type(os.root);
  require_supported_root({os.root, facts.root_fs_type, guest.is_lv(os.root)}, partitions);
  facts.root_uuid = guest.vfs_uuid(os.root);
  facts.disk_device = guest.part_to_dev(os.root);
  facts.root_partnum = guest.part_to_partnum(os.root);
  PartTypeCache part_types(guest);
  facts.partition_table = part_types.get(facts.disk_device);

  // ESP: by GPT type and vfat, preferring the one the guest's fstab mounts and
  // then the one on the root's disk.
  std::vector<EspCandidate> esps = find_esps(guest, part_types, filesystems, partitions);
  require_esp(esps.size());
  auto fstab_mountpoint = [&os](const std::string &device) -> std::optional<std::string> {
    for (const auto &m : os.mountpoints) {
      if (m.mountable == device) {
        return m.mountpoint;
      }
    }
    return std::nullopt;
  };
  std::stable_sort(esps.begin(), esps.end(), [&](const EspCandidate &a, const EspCandidate &b) {
    const auto rank = [&](const EspCandidate &c) {
      return (fstab_mountpoint(c.device) ? 0 : 2) + (c.disk == facts.disk_device ? 0 : 1);
    };
    return rank(a) < rank(b);
  });
  facts.esp_device = esps.front().device;
  facts.esp_partnum = esps.front().partnum;
  facts.esp_uuid = guest.vfs_uuid(facts.esp_device);
  facts.esp_mountpoint = fstab_mountpoint(facts.esp_device);

  for (const auto &m : os.mountpoints) {
    if (m.mountpoint == "/boot") {
      facts.boot_device = m.mountable;
      facts.boot_fs_type = guest.vfs_type(m.mountable);
      facts.boot_uuid = guest.vfs_uuid(m.mountable);
    }
  }

  // Files: root (and /boot) mounted read-only.
  guest.mount(os.root, "/", ReadOnly::yes);
  if (facts.boot_device) {
    guest.mount(*facts.boot_device, "/boot", ReadOnly::yes);
  }
  const FsUsage usage = guest.statvfs("/");
  facts.root_used_bytes = usage.used_bytes;
  facts.root_total_bytes = usage.total_bytes;

  if (guest.is_dir("/boot")) {
    for (const std::string &name : guest.ls("/boot")) {
      const auto version = kernel_version_from_filename(name);
      const std::string path = "/boot/" + name;
      if (!version || !guest.is_file(path)) {
        continue;
      }
      KernelImage k;
      k.version = *version;
      k.kernel_path = path;
      for (const std::string &candidate : initrd_candidates(*version)) {
        if (guest.is_file("/boot/" + candidate)) {
          k.initrd_path = "/boot/" + candidate;
          break;
        }
      }
      facts.kernels.push_back(std::move(k));
    }
  }
  require_kernel(facts.kernels);
  std::sort(facts.kernels.begin(), facts.kernels.end(), [](const KernelImage &a, const KernelImage &b) {
    return compare_versions(a.version, b.version) < 0;
  });

  InitramfsEvidence evidence;
  evidence.update_initramfs = any_exists(guest, {"/usr/sbin/update-initramfs", "/sbin/update-initramfs"});
  evidence.initramfs_tools_conf = guest.is_dir("/etc/initramfs-tools");
  evidence.initramfs_tools_hook = guest.exists("/etc/kernel/postinst.d/initramfs-tools");
  evidence.dracut = any_exists(guest, {"/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut"});
  evidence.dracut_modules = guest.is_dir("/usr/lib/dracut/modules.d");
  evidence.dracut_hook = guest.exists("/etc/kernel/postinst.d/dracut");
  InitramfsChoice choice = decide_initramfs_generator(evidence);
  facts.initramfs_generator = choice.generator;
  facts.initramfs_reason = std::move(choice.reason);

  for (const char *cfg : {"/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"}) {
    if (guest.is_file(cfg)) {
      facts.grub_cfg = cfg;
      break;
    }
  }
  guest.umount_all();

  // The ESP on its own, so its paths do not depend on the guest's fstab.
  guest.mount(facts.esp_device, "/", ReadOnly::yes);
  std::vector<std::string> pending{"/"};
  while (!pending.empty()) {
    const std::string dir = pending.back();
    pending.pop_back();
    for (const std::string &name : guest.ls(dir)) {
      const std::string path = (dir == "/" ? dir : dir + "/") + name;
      if (guest.is_dir(path)) {
        pending.push_back(path);
      } else if (ends_with_ci(name, ".efi") && guest.is_file(path)) {
        facts.efi_binaries.push_back(path);
      }
    }
  }
  std::sort(facts.efi_binaries.begin(), facts.efi_binaries.end());
  guest.umount_all();

  const bool has_grub_efi =
      std::any_of(facts.efi_binaries.begin(), facts.efi_binaries.end(), [](const std::string &p) {
        return ends_with_ci(p, "/grubx64.efi") || ends_with_ci(p, "/shimx64.efi") ||
               ends_with_ci(p, "/BOOTX64.EFI");
      });
  facts.bootloader = facts.grub_cfg && has_grub_efi ? Bootloader::grub_efi : Bootloader::unknown;

  log::debug("base image: {} {}.{} root {} ({}, UUID {}), ESP {}, {} kernel(s), {}, {}",
             facts.distro,
             facts.major_version,
             facts.minor_version,
             facts.root_device,
             facts.root_fs_type,
             facts.root_uuid,
             facts.esp_device,
             facts.kernels.size(),
             manifest::to_string(facts.initramfs_generator),
             to_string(facts.bootloader));
  return facts;
}

BaseImageFacts
inspect_base_image(const std::filesystem::path &image,
                   const std::string &format,
                   const SessionOptions &options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(image, ec) && !std::filesystem::is_block_file(image, ec)) {
    throw Error(ErrorKind::input, "{}: no such disk image", image.native());
  }
  Session session(options);
  // Format detection runs qemu-img on the host, before any appliance: a file
  // that is not a `format` image is an input error, a later launch failure is not.
  std::string detected;
  try {
    detected = session.disk_format(image);
  } catch (const Error &e) {
    throw Error(ErrorKind::input, "{} is not a readable disk image: {}", image.native(), e.what());
  }
  if (detected != format) {
    throw Error(ErrorKind::input,
                "{} is not a {} disk image (detected format: {})",
                image.native(),
                format,
                detected);
  }
  session.add_drive(image, format, ReadOnly::yes);
  session.launch();
  BaseImageFacts facts = inspect_base(session);
  session.shutdown();
  return facts;
}

} // namespace cvm::baseimage
