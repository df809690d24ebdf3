// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/pipeline/context.hpp"
#include "lib/plan/stages.hpp"
#include "measurement/predict.hpp"

// Helpers the stages share. Each stage is one entry of lib/plan/stages.hpp
// (plan::CopyRoot, ...) whose run() is defined in lib/pipeline/stages/<name>.cpp.
namespace cvm::pipeline::stages {

// Mounts the output filesystems as the guest will see them ("/", "/boot",
// the ESP) so in-guest tools can run chrooted; idempotent.
void mount_output_as_root(BuildContext &ctx);

// configure-boot without the mounting: edits fstab, crypttab, the initramfs
// generator's and GRUB's configuration in the mounted new root `g`.
void write_boot_config(BuildContext &ctx, guestfs::Guest &g);
// rebuild-initramfs without mounting or trimming: the guest's initramfs
// generator and GRUB, chrooted, with tmpfs on /run and /var/tmp.
void run_guest_boot_tools(BuildContext &ctx, guestfs::Guest &g);

// The command line GRUB passes to the kernel for the first menu entry of
// `grub_cfg` ("BOOT_IMAGE=/vmlinuz-... root=... ro ..."). Throws if none.
std::string grub_kernel_cmdline(std::string_view grub_cfg);

// The boot artifacts extract-boot-artifacts wrote into `dir`, as the
// measurement library takes them.
measure::BootArtifacts boot_artifacts(const std::filesystem::path &dir, manifest::BootMode mode);

// The binding verdict (lib/pipeline/binding_check.cpp): record `verdict` in
// the report and throw cvm::Error(manifest) if an attested TDX build leaves
// an input unbound without attestation.insecure_allow_unbound.
void record_binding(BuildContext &ctx, const measure::BindingVerdict &verdict);
// The verdict with what inspect-base found (kernel version, shim, GRUB).
void check_binding_after_inspection(BuildContext &ctx);

// The kernels in the new /boot with their initrds, oldest first; throws if
// there is none. Mounts the output as root.
std::vector<baseimage::KernelImage> kernels_in_output(BuildContext &ctx);

// The LUKS2 parameters of the manifest's luks: section (cipher, key size,
// sector size, keyslot 0's PBKDF), for the root and every data volume: a
// header with `data_offset` before `data_size` bytes of data, a 1 MiB
// keyslots area, subsystem "cvmforge". Label, UUID and recovery are the
// caller's.
luks::LuksParams luks_params(const manifest::Manifest &m, std::uint64_t data_offset, std::uint64_t data_size);
luks::PbkdfParams to_luks(const manifest::Pbkdf &p);

// The kernel command line additions as one string.
std::string kernel_parameters_string(const BuildContext &ctx);

} // namespace cvm::pipeline::stages
