// SPDX-License-Identifier: Apache-2.0
// Stage make-uki (boot.mode uki): a unified kernel image from the guest's own
// systemd EFI stub, the newest kernel, the initramfs the guest's generator
// just made, the kernel command line and os-release, written as the ESP's
// removable-media loader \EFI\BOOT\BOOTX64.EFI. The firmware then measures
// all of it into RTMR1 as one Authenticode digest, on any kernel version.
// The assembly is measurement/uki.cpp (pure, deterministic); the stub comes
// from the guest, never from the host.
#include "lib/crypto/crypto.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/hex.hpp"
#include "lib/util/log.hpp"
#include "measurement/pe.hpp"
#include "measurement/uki.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>

namespace cvm::pipeline::stages {

namespace {

// Loaders the removable path may hold besides BOOTX64.EFI (shim's second
// stage, its fallback and MOK manager). With the UKI at BOOTX64.EFI nothing
// starts them; they are removed so the ESP holds only what boots.
constexpr std::array<const char *, 3> k_other_loaders = {"grubx64.efi", "fbx64.efi", "mmx64.efi"};

std::string
os_release(guestfs::Guest &g) {
  for (const char *p : {"/etc/os-release", "/usr/lib/os-release"}) {
    if (g.is_file(p)) {
      return g.read_text(p);
    }
  }
  throw Error(ErrorKind::guest, "the new root has no os-release (/etc/os-release, /usr/lib/os-release)");
}

void
make_uki(BuildContext &ctx) {
  auto &g = *ctx.guest;
  const auto kernels = kernels_in_output(ctx);
  const auto &k = kernels.back();
  if (!k.initrd_path) {
    throw Error(ErrorKind::guest, "the initramfs for kernel {} was not generated", k.version);
  }
  const auto dir = ctx.artifacts_dir;
  g.download(k_systemd_efi_stub, dir / "linuxx64.efi.stub");
  g.download(k.kernel_path, dir / "uki-linux");
  g.download(*k.initrd_path, dir / "uki-initrd");

  std::vector<std::string> params = ctx.kernel_parameters;
  // As GRUB's Debian entries do: the initramfs mounts the root read-only and
  // systemd remounts it after fsck.
  params.insert(params.empty() ? params.end() : params.begin() + 1, "ro");
  const std::string cmdline = fmt::format("{}", fmt::join(params, " "));

  measure::UkiSections sections;
  sections.osrel = os_release(g);
  sections.cmdline = cmdline;
  sections.uname = k.version;
  sections.kernel = fs::read_file(dir / "uki-linux");
  sections.initrd = fs::read_file(dir / "uki-initrd");
  const auto stub = fs::read_file(dir / "linuxx64.efi.stub");
  std::vector<std::byte> uki;
  try {
    uki = measure::assemble_uki(stub, sections);
  } catch (const Error &e) {
    throw e.with_context(fmt::format("the guest's {}", k_systemd_efi_stub));
  }
  const auto info = measure::parse_uki(uki);
  const auto stub_version = measure::systemd_stub_major(info);
  fs::write_file_atomic(dir / "uki.efi", uki);
  std::filesystem::remove(dir / "uki-linux");
  std::filesystem::remove(dir / "uki-initrd");

  const std::string esp = ctx.facts.esp_mountpoint.value_or("/boot/efi");
  g.mkdir_p(esp + "/EFI/BOOT");
  g.upload(dir / "uki.efi", esp + "/EFI/BOOT/BOOTX64.EFI");
  for (const char *name : k_other_loaders) {
    const std::string path = esp + "/EFI/BOOT/" + name;
    if (g.exists(path)) {
      g.rm(path);
    }
  }
  // The loaders replaced or removed leave freed clusters on the ESP: hand
  // them back to the qcow2 (only the image's size is at stake).
  try {
    g.fstrim(esp);
  } catch (const Error &e) {
    log::warning("could not trim the ESP ({}); the image keeps those blocks allocated", e.what());
  }
  log::info("  {} ({} MiB, {}, kernel {}): {}",
            esp + "/EFI/BOOT/BOOTX64.EFI",
            uki.size() >> 20U,
            info.stub_version.empty() ? std::string("systemd-stub") : info.stub_version,
            k.version,
            cmdline);
  ctx.uki = BuiltUki{esp + "/EFI/BOOT/BOOTX64.EFI",
                     uki.size(),
                     to_hex(crypto::sha256(uki)),
                     to_hex(measure::authenticode_sha384(uki)),
                     info.stub_version,
                     k.version,
                     cmdline};
  if (ctx.manifest.attestation.enabled) {
    ctx.boot_facts.systemd_stub_version = stub_version;
    record_binding(ctx, plan::binding_verdict(ctx.manifest, &ctx.boot_facts));
  }
}

} // namespace

} // namespace cvm::pipeline::stages

namespace cvm::plan {

// This stage's entry in lib/plan/stages.hpp.
void
MakeUki::run(pipeline::BuildContext &ctx) {
  pipeline::stages::make_uki(ctx);
}

} // namespace cvm::plan
