// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/bootcfg.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>

namespace cvm::pipeline::bootcfg {

namespace {

std::vector<std::string>
fields(const std::string &line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string f;
  while (in >> f) {
    out.push_back(f);
  }
  return out;
}

bool
names_block_device(const std::string &spec) {
  return spec.starts_with("UUID=") || spec.starts_with("PARTUUID=") || spec.starts_with("LABEL=") ||
         spec.starts_with("PARTLABEL=") || spec.starts_with("/dev/");
}

std::vector<std::string>
lines_of(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    out.emplace_back(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    if (nl == std::string_view::npos) {
      break;
    }
    pos = nl + 1;
  }
  return out;
}

} // namespace

std::string
esp_mountpoint(std::string_view fstab) {
  for (const auto &line : lines_of(fstab)) {
    const auto f = fields(line);
    if (f.size() >= 3 && !f[0].starts_with("#") && f[2] == "vfat" &&
        (f[1] == "/boot/efi" || f[1] == "/efi")) {
      return f[1];
    }
  }
  return "";
}

std::string
mount_unit_name(std::string_view mount_point) {
  std::string_view p = mount_point;
  while (!p.empty() && p.front() == '/') {
    p.remove_prefix(1);
  }
  while (!p.empty() && p.back() == '/') {
    p.remove_suffix(1);
  }
  if (p.empty()) {
    return "-.mount";
  }
  std::string out;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c == '/') {
      out += '-';
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
               c == '_' || (c == '.' && i != 0)) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out + ".mount";
}

std::string
rewrite_fstab(std::string_view old_fstab, const FstabInput &in) {
  std::string out = "# /etc/fstab: rewritten by cvmforge; the root filesystem is LUKS2-encrypted.\n";
  for (const auto &line : lines_of(old_fstab)) {
    const auto f = fields(line);
    if (f.empty() || f[0].starts_with("#")) {
      if (!line.starts_with("# /etc/fstab: rewritten by cvmforge")) {
        out += line + "\n";
      }
      continue;
    }
    const bool volume_mount =
        f.size() >= 2 &&
        std::any_of(in.volumes.begin(), in.volumes.end(), [&](const auto &v) { return v.mount == f[1]; });
    if (f.size() >= 2 && (f[1] == "/" || f[1] == "/boot" || f[1] == in.esp_mountpoint ||
                          f[1] == "/boot/efi" || volume_mount)) {
      out += "# replaced by cvmforge: " + line + "\n";
      continue;
    }
    if (names_block_device(f[0])) {
      out += "# disabled by cvmforge (the device is not part of the converted image): " + line + "\n";
      continue;
    }
    out += line + "\n";
  }
  out += fmt::format("/dev/mapper/{} / {} errors=remount-ro 0 1\n", in.mapper_name, in.root_fstype);
  out += fmt::format("UUID={} /boot ext4 defaults,nodev,nosuid 0 2\n", in.boot_fs_uuid);
  out += fmt::format("UUID={} {} vfat umask=0077 0 1\n", in.esp_fs_uuid, in.esp_mountpoint);
  // Data volumes: opened in the initramfs by cvmforge-agent (never listed in
  // crypttab, so nothing prompts). An optional one may be absent: nofail, so
  // the boot does not depend on it, and the agent masks its mount unit in
  // /run for this boot when it skips it, so nothing waits for its device.
  // No x-systemd.device-timeout: a mapping the initramfs made is "found"
  // only once udev's coldplug in the root reaches it, which took over 30 s
  // on a loaded TCG test host; a shorter timeout lost volumes that were there.
  for (const FstabVolume &v : in.volumes) {
    std::vector<std::string> options = v.options;
    if (options.empty()) {
      options.emplace_back("defaults");
    }
    if (!v.required) {
      options.emplace_back("nofail");
    }
    out += fmt::format(
        "/dev/mapper/{} {} {} {} 0 2\n", v.mapper_name, v.mount, v.fstype, fmt::join(options, ","));
  }
  return out;
}

std::string
crypttab_line(std::string_view mapper_name, std::string_view luks_uuid, std::string_view options) {
  return fmt::format("{} UUID={} none {}\n", mapper_name, luks_uuid, options);
}

std::string
rewrite_crypttab(std::string_view old_crypttab, std::string_view root_line, std::string_view mapper_name) {
  std::string out;
  for (const auto &line : lines_of(old_crypttab)) {
    const auto f = fields(line);
    if (!f.empty() && f[0] == mapper_name) {
      continue;
    }
    out += line + "\n";
  }
  out += root_line;
  return out;
}

std::string
set_shell_variable(std::string_view conf,
                   std::string_view name,
                   std::string_view value,
                   std::string_view why) {
  const std::string assignment = fmt::format("{}={}", name, value);
  const std::string prefix = fmt::format("{}=", name);
  std::string out;
  bool found = false;
  for (const auto &line : lines_of(conf)) {
    const auto start = line.find_first_not_of(" \t");
    if (start != std::string::npos && std::string_view(line).substr(start).starts_with(prefix)) {
      out += assignment + "\n";
      found = true;
    } else {
      out += line + "\n";
    }
  }
  if (!found) {
    out += fmt::format("# {}\n{}\n", why, assignment);
  }
  return out;
}

std::vector<std::string>
kernel_parameters(manifest::InitramfsGenerator initramfs_backend,
                  std::string_view mapper_name,
                  std::string_view luks_uuid,
                  const std::vector<std::string> &manifest_additions) {
  std::vector<std::string> p;
  p.push_back(fmt::format("root=/dev/mapper/{}", mapper_name));
  if (initramfs_backend == manifest::InitramfsGenerator::dracut) {
    // systemd-cryptsetup in the initrd names the mapping; no shell, and
    // power off instead of an emergency prompt.
    p.push_back(fmt::format("rd.luks.name={}={}", luks_uuid, mapper_name));
    p.emplace_back("rd.shell=0");
    p.emplace_back("rd.emergency=poweroff");
  } else {
    // initramfs-tools: panic() reboots at once instead of offering a shell;
    // QEMU with -no-reboot turns that into power-off.
    p.emplace_back("panic=-1");
  }
  for (const auto &a : manifest_additions) {
    p.push_back(a);
  }
  return p;
}

} // namespace cvm::pipeline::bootcfg
