// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/baseimage/inspect.hpp"
#include "tests/unit/fakes/fake_guest.hpp"

namespace cvm::guestfs::test {

inline constexpr const char *k_root_uuid = "0f8e4a2c-1111-4222-8333-944455556666";

// A Debian 12 guest as libguestfs would report it: GPT, ESP on sda1, ext4 root on sda2.
inline FakeGuest
debian_guest() {
  FakeGuest g;
  g.add_partition("/dev/sda", 1, "vfat", "ABCD-1234", std::string(baseimage::k_esp_type_guid));
  g.add_partition("/dev/sda", 2, "ext4", k_root_uuid);
  g.tree("/dev/sda1")
      .put_file("/EFI/BOOT/BOOTX64.EFI", "MZ")
      .put_file("/EFI/debian/shimx64.efi", "MZ")
      .put_file("/EFI/debian/grubx64.efi", "MZ")
      .put_file("/EFI/debian/grub.cfg", "search");
  g.tree("/dev/sda2")
      .put_file("/etc/os-release", "ID=debian\n")
      .put_dir("/etc/initramfs-tools")
      .put_file("/usr/sbin/update-initramfs", "#!/bin/sh\n", 0755)
      .put_file("/boot/vmlinuz-6.1.0-9-amd64", "k")
      .put_file("/boot/vmlinuz-6.1.0-10-amd64", "k")
      .put_file("/boot/initrd.img-6.1.0-10-amd64", "i")
      .put_symlink("/boot/vmlinuz", "vmlinuz-6.1.0-10-amd64")
      .put_dir("/boot/efi") // the ESP's mountpoint
      .put_file("/boot/grub/grub.cfg", "menuentry");
  g.devices["/dev/sda2"].usage = {4096, 100 * 4096, 40 * 4096, 60 * 4096};
  OsInfo os;
  os.root = "/dev/sda2";
  os.type = "linux";
  os.distro = "debian";
  os.major_version = 12;
  os.product_name = "Debian GNU/Linux 12 (bookworm)";
  os.package_format = "deb";
  os.mountpoints = {{"/", "/dev/sda2"}, {"/boot/efi", "/dev/sda1"}};
  g.oses.push_back(os);
  return g;
}

} // namespace cvm::guestfs::test
