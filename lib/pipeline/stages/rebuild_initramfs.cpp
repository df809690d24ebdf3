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
#include <string>
#include <vector>

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

// tmpfs mounts inside the chroot, made with the guest's own mount(8) (the
// libguestfs API mounts devices, not tmpfs) and undone in reverse order on
// every way out.
class ScratchTmpfs {
public:
  struct Mount {
    const char *path;
    const char *options;
  };
  ScratchTmpfs(guestfs::Guest &g, std::initializer_list<Mount> mounts)
    : m_g(g) {
    try {
      for (const auto &m : mounts) {
        m_g.command({"/bin/mount", "-n", "-t", "tmpfs", "-o", m.options, "tmpfs", m.path});
        m_mounted.emplace_back(m.path);
      }
    } catch (...) {
      unmount_quietly();
      throw;
    }
  }
  ScratchTmpfs(const ScratchTmpfs &) = delete;
  ScratchTmpfs &operator=(const ScratchTmpfs &) = delete;
  ScratchTmpfs(ScratchTmpfs &&) = delete;
  ScratchTmpfs &operator=(ScratchTmpfs &&) = delete;
  ~ScratchTmpfs() {
    unmount_quietly();
  }
  // Unmounts; throws if an unmount fails (the image would keep a tmpfs's
  // view hiding its own directory).
  void
  release() {
    while (!m_mounted.empty()) {
      const std::string path = m_mounted.back();
      m_mounted.pop_back();
      m_g.command({"/bin/umount", "-n", path});
    }
  }

private:
  // On a failing build: try every unmount, report none.
  void
  unmount_quietly() noexcept {
    while (!m_mounted.empty()) {
      try {
        release();
      } catch (...) { // NOLINT(bugprone-empty-catch): the build is failing anyway
      }
    }
  }

  guestfs::Guest &m_g;
  std::vector<std::string> m_mounted;
};

// The replaced initramfs images leave freed blocks on the unencrypted /boot:
// hand them back to the qcow2. /boot is mounted noload for the build (see
// k_output_ext4_mount_options), and ext4 refuses FITRIM with EROFS on a
// filesystem whose journal it has not loaded. So /boot is mounted with its
// journal for the trim alone: the journal is clean and was never used, so
// loading it replays nothing, and a trim writes no metadata.
void
trim_boot(BuildContext &ctx) {
  auto &g = *ctx.guest;
  const std::string esp = ctx.facts.esp_mountpoint.value_or("/boot/efi");
  g.umount(esp);
  g.umount("/boot");
  g.mount(ctx.out_boot, "/boot");
  try {
    g.fstrim("/boot");
  } catch (const Error &e) {
    // Only the image's size is at stake, not its content.
    log::warning("could not trim /boot ({}); the image keeps those blocks allocated", e.what());
  }
  g.umount("/boot");
  g.mount_options(k_output_ext4_mount_options, ctx.out_boot, "/boot");
  g.mount(ctx.out_esp, esp);
}

void
rebuild_initramfs(BuildContext &ctx) {
  mount_output_as_root(ctx);
  run_guest_boot_tools(ctx, *ctx.guest);
  trim_boot(ctx);
}

} // namespace

void
run_guest_boot_tools(BuildContext &ctx, guestfs::Guest &g) {
  // The guest's tools get the tmpfs mounts a booted system has:
  //  - /var/tmp: mkinitramfs and dracut stage a full module tree there and
  //    delete it afterwards. On the encrypted root those freed blocks would
  //    stay allocated ciphertext in the image (no discard through dm-crypt).
  //  - /run: lock and state directories (/run/cryptsetup, /run/mount ...)
  //    would otherwise be left in the image's /run.
  // -n keeps util-linux from recording the mounts in /run/mount/utab, which
  // it would otherwise recreate under /run after unmounting it.
  ScratchTmpfs scratch(g, {{"/run", "mode=0755,size=25%"}, {"/var/tmp", "mode=1777,size=75%"}});
  if (ctx.initramfs_backend == manifest::InitramfsGenerator::dracut) {
    for (const auto &k : ctx.facts.kernels) {
      const std::string image = k.initrd_path.value_or("/boot/initrd.img-" + k.version);
      log::info("  dracut {}", k.version);
      g.command(boot_tool_argv({first_existing(g, {"/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut"}),
                                "--force",
                                image,
                                k.version},
                               ctx.source_date_epoch,
                               BootTool::dracut));
    }
  } else {
    log::info("  update-initramfs -u -k all");
    g.command(boot_tool_argv(
        {first_existing(g, {"/usr/sbin/update-initramfs", "/sbin/update-initramfs"}), "-u", "-k", "all"},
        ctx.source_date_epoch,
        BootTool::other));
  }

  scratch.release();

  if (ctx.manifest.boot.mode == manifest::BootMode::grub) {
    const std::string esp = ctx.facts.esp_mountpoint.value_or("/boot/efi");
    // OVMF in a fresh TD has no boot entries: it starts the removable-media
    // path EFI/BOOT/BOOTX64.EFI, which is what --removable installs. A vendor
    // directory the base had (EFI/debian) is refreshed too.
    const std::string grub_install = first_existing(g, {"/usr/sbin/grub-install", "/sbin/grub-install"});
    g.command(boot_tool_argv(
        {grub_install, "--target=x86_64-efi", "--efi-directory=" + esp, "--no-nvram", "--removable"},
        ctx.source_date_epoch,
        BootTool::other));
    const bool vendor_dir =
        std::any_of(ctx.facts.efi_binaries.begin(), ctx.facts.efi_binaries.end(), [](const std::string &b) {
          return b.find("/EFI/BOOT/") == std::string::npos;
        });
    if (vendor_dir) {
      g.command(boot_tool_argv({grub_install, "--target=x86_64-efi", "--efi-directory=" + esp, "--no-nvram"},
                               ctx.source_date_epoch,
                               BootTool::other));
    }
    if (g.exists("/usr/sbin/update-grub")) {
      g.command(boot_tool_argv({"/usr/sbin/update-grub"}, ctx.source_date_epoch, BootTool::other));
    } else {
      g.command(boot_tool_argv({first_existing(g, {"/usr/sbin/grub-mkconfig", "/sbin/grub-mkconfig"}),
                                "-o",
                                "/boot/grub/grub.cfg"},
                               ctx.source_date_epoch,
                               BootTool::other));
    }
    const std::string cfg = g.read_text("/boot/grub/grub.cfg");
    if (cfg.find("root=/dev/mapper/" + ctx.manifest.luks.mapper_name) == std::string::npos) {
      throw Error(ErrorKind::guest,
                  "the regenerated grub.cfg does not boot root=/dev/mapper/{}",
                  ctx.manifest.luks.mapper_name);
    }
  }
}

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
RebuildInitramfs::run(pipeline::BuildContext &ctx) {
  pipeline::stages::rebuild_initramfs(ctx);
}

} // namespace cvm::plan
