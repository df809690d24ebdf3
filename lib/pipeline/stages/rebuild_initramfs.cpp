// SPDX-License-Identifier: Apache-2.0
// Stage rebuild-initramfs: run the guest's own tools, chrooted into the new
// tree (with the LUKS volume open, as it will be at boot): its initramfs
// generator for every installed kernel, then GRUB (reinstalled on the ESP,
// since the old boot loader looked for /boot/grub on the old root, and its
// configuration regenerated for the guest's kernels, not the appliance's).
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <algorithm>

namespace cvm::pipeline::stages {

namespace {

std::string
first_existing(guestfs::Guest &g, std::initializer_list<const char *> candidates) {
  for (const char *c : candidates) {
    if (g.exists(c)) {
      return c;
    }
  }
  return *candidates.begin();
}

} // namespace

void
rebuild_initramfs(BuildContext &ctx) {
  mount_output_as_root(ctx);
  auto &g = *ctx.guest;
  // mkinitramfs and dracut stage a full module tree in /var/tmp and delete it
  // afterwards. On the encrypted root those freed blocks would stay allocated
  // ciphertext in the image (no discard through dm-crypt here), so the guest's
  // own mount puts a tmpfs there while they run.
  g.command({"/bin/mount", "-t", "tmpfs", "-o", "mode=1777,size=75%", "tmpfs", "/var/tmp"});
  struct VarTmp {
    explicit VarTmp(guestfs::Session &session)
      : g(session) {}
    guestfs::Session &g;
    bool mounted = true;
    void
    release() {
      if (mounted) {
        mounted = false;
        g.command({"/bin/umount", "/var/tmp"});
      }
    }
    VarTmp(const VarTmp &) = delete;
    VarTmp &operator=(const VarTmp &) = delete;
    VarTmp(VarTmp &&) = delete;
    VarTmp &operator=(VarTmp &&) = delete;
    ~VarTmp() {
      if (mounted) {
        try {
          g.command({"/bin/umount", "/var/tmp"});
        } catch (const Error &) { // NOLINT(bugprone-empty-catch): the build is failing anyway
        }
      }
    }
  } var_tmp(g);
  if (ctx.initramfs_backend == "dracut") {
    for (const auto &k : ctx.facts.kernels) {
      const std::string image = k.initrd_path.value_or("/boot/initrd.img-" + k.version);
      log::info("  dracut {}", k.version);
      g.command({first_existing(g, {"/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut"}),
                 "--force",
                 image,
                 k.version});
    }
  } else {
    log::info("  update-initramfs -u -k all");
    g.command(
        {first_existing(g, {"/usr/sbin/update-initramfs", "/sbin/update-initramfs"}), "-u", "-k", "all"});
  }

  var_tmp.release();

  if (ctx.manifest.boot.mode == manifest::BootMode::grub) {
    const std::string esp = ctx.facts.esp_mountpoint.value_or("/boot/efi");
    // OVMF in a fresh TD has no boot entries: it starts the removable-media
    // path EFI/BOOT/BOOTX64.EFI, which is what --removable installs. A vendor
    // directory the base had (EFI/debian) is refreshed too.
    const std::string grub_install = first_existing(g, {"/usr/sbin/grub-install", "/sbin/grub-install"});
    g.command({grub_install, "--target=x86_64-efi", "--efi-directory=" + esp, "--no-nvram", "--removable"});
    const bool vendor_dir =
        std::any_of(ctx.facts.efi_binaries.begin(), ctx.facts.efi_binaries.end(), [](const std::string &b) {
          return b.find("/EFI/BOOT/") == std::string::npos;
        });
    if (vendor_dir) {
      g.command({grub_install, "--target=x86_64-efi", "--efi-directory=" + esp, "--no-nvram"});
    }
    if (g.exists("/usr/sbin/update-grub")) {
      g.command({"/usr/sbin/update-grub"});
    } else {
      g.command({first_existing(g, {"/usr/sbin/grub-mkconfig", "/sbin/grub-mkconfig"}),
                 "-o",
                 "/boot/grub/grub.cfg"});
    }
    const std::string cfg = g.read_text("/boot/grub/grub.cfg");
    if (cfg.find("root=/dev/mapper/" + ctx.manifest.luks.mapper_name) == std::string::npos) {
      throw Error(ErrorKind::guest,
                  "the regenerated grub.cfg does not boot root=/dev/mapper/{}",
                  ctx.manifest.luks.mapper_name);
    }
  }
  // The replaced initramfs images leave freed blocks on the (unencrypted)
  // /boot and ESP filesystems: hand them back to the qcow2.
  try {
    g.fstrim("/boot");
  } catch (const Error &e) {
    // Only the image's size is at stake, not its content.
    log::warning("could not trim /boot ({}); the image keeps those blocks allocated", e.what());
  }
}

} // namespace cvm::pipeline::stages
