// SPDX-License-Identifier: Apache-2.0
#pragma once

// StageTest: a build context on fakes (FakeLauncher, FakeGuest,
// FakeLuksVolume) with a manifest whose base and outputs live in a private
// temporary directory, and the set-ups that put the context where an
// earlier stage would leave it. Each stage's test (test_stage_<name>.cpp)
// starts from the set-up of the stage before it.

#include "lib/baseimage/inspect.hpp"
#include "lib/manifest/manifest.hpp"
#include "lib/pipeline/context.hpp"
#include "lib/pipeline/report.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "tests/unit/fakes/debian_guest.hpp"
#include "tests/unit/fakes/fake_guest.hpp"
#include "tests/unit/luks/fake_luks_volume.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace cvm::pipeline::test {

using guestfs::test::FakeGuest;
using guestfs::test::FakeLauncher;
using luks::test::FakeLuksVolume;

// The output disk's partitions as create-output names them.
inline constexpr const char *k_out_disk = "/dev/sdb";
inline constexpr const char *k_out_esp = "/dev/sdb1";
inline constexpr const char *k_out_boot = "/dev/sdb2";
inline constexpr const char *k_out_root = "/dev/sdb3";

inline SecretBytes
secret(std::string_view text) {
  return SecretBytes::copy_of(std::as_bytes(std::span(text.data(), text.size())));
}

struct StageTest : ::testing::Test {
  fs::TempDir dir{"cvm-stage-test"};
  std::optional<manifest::Manifest> m;
  BuildOptions options;
  FakeLauncher *launcher = nullptr; // owned by ctx
  FakeLuksVolume *luks = nullptr;   // owned by ctx
  std::unique_ptr<BuildContext> ctx;

  // The build report as commit would write it from the context now.
  [[nodiscard]] nlohmann::ordered_json
  report() const {
    return build_report(*ctx);
  }

  // A context for the manifest `base` + `output` + `extra` (YAML, top-level
  // keys), with the base image file in place and fake backends.
  BuildContext &
  context(const std::string &extra = "") {
    fs::write_file_atomic(dir.path() / "base.qcow2", std::string_view("a qcow2 base image\n"));
    // Without attestation a manifest needs the recovery keyslot (someone must
    // be able to open the disk); `extra` may say otherwise.
    const bool unlock_given =
        extra.find("luks:") != std::string::npos || extra.find("attestation:") != std::string::npos;
    const std::string yaml = "version: 1\nname: stage-test\nbase: {path: base.qcow2}\n"
                             "output: {path: out/image.qcow2}\n" +
                             std::string(unlock_given ? "" : "luks: {recovery: {enabled: true}}\n") + extra;
    manifest::LoadOptions lo;
    lo.check_files = false;
    auto loaded = manifest::load_from_string(yaml, dir.path() / "manifest.yaml", lo);
    if (!loaded.manifest) {
      std::string why;
      for (const auto &d : loaded.diagnostics.all()) {
        why += d.message + "; ";
      }
      throw Error(ErrorKind::internal, "test manifest does not load: {}\n{}", why, yaml);
    }
    m = std::move(*loaded.manifest);
    auto l = std::make_unique<FakeLauncher>();
    auto v = std::make_unique<FakeLuksVolume>();
    launcher = l.get();
    luks = v.get();
    ctx = std::make_unique<BuildContext>(*m, options, Backends{std::move(l), std::move(v)});
    return *ctx;
  }

  // What check-inputs leaves: scratch directory, artifacts directory, the
  // temporary output path.
  void
  inputs_checked() {
    ctx->work.emplace("cvm-stage-work");
    ctx->artifacts_dir = ctx->work->path() / "boot-artifacts";
    std::filesystem::create_directories(ctx->artifacts_dir);
    std::filesystem::create_directories(m->output.path.parent_path());
    ctx->output_tmp = m->output.path.parent_path() / ".image.qcow2.partial-test";
  }

  // What inspect-base leaves, for the Debian 12 base of debian_guest().
  void
  base_inspected() {
    inputs_checked();
    FakeGuest base = guestfs::test::debian_guest();
    ctx->facts = baseimage::inspect_base(base);
    ctx->initramfs_backend = ctx->facts.initramfs_generator;
    ctx->content = {40 * 4096, 8192, 4096};
  }

  // What prepare-key leaves: keys and identifiers.
  void
  key_prepared() {
    base_inspected();
    ctx->unlock_key = secret("0123456789abcdef0123456789abcdef");
    ctx->volume_key = secret(std::string(64, 'v'));
    ctx->build_passphrase = secret("build-passphrase");
    ctx->luks_uuid = "b6824533-d4fb-409c-bf7e-d78d3cbccac9";
    ctx->root_fs_uuid = "11111111-1111-4111-8111-111111111111";
    ctx->boot_fs_uuid = "22222222-2222-4222-8222-222222222222";
  }

  // What create-output leaves: an appliance with the base (/dev/sda) and the
  // partitioned output (/dev/sdb), the scratch mountpoints made. Returns it
  // (owned by ctx->guest).
  FakeGuest &
  output_created() {
    key_prepared();
    auto g = std::make_unique<FakeGuest>(guestfs::test::debian_guest());
    g->add_disk(k_out_disk);
    g->add_partition(k_out_disk, 1, "unknown", "");
    g->add_partition(k_out_disk, 2, "unknown", "");
    g->add_partition(k_out_disk, 3, "unknown", "");
    g->mkmountpoint(k_src);
    g->mkmountpoint(k_dst);
    ctx->base_disk = "/dev/sda";
    ctx->out_disk = k_out_disk;
    ctx->out_esp = k_out_esp;
    ctx->out_boot = k_out_boot;
    ctx->out_root = k_out_root;
    auto &ref = *g;
    ctx->guest = std::move(g);
    return ref;
  }

  // What copy-root leaves, by running format-luks, copy-esp and copy-root on
  // the fakes: the new root in the open LUKS2 volume at k_dst, /boot under it.
  FakeGuest &
  root_copied() {
    FakeGuest &g = output_created();
    plan::FormatLuks::run(*ctx);
    plan::CopyEsp::run(*ctx);
    plan::CopyRoot::run(*ctx);
    return g;
  }
};

// The Error a call throws (fails the test if it throws none).
template<class F>
Error
error_of(F &&f) {
  try {
    f();
  } catch (const Error &e) {
    return e;
  }
  ADD_FAILURE() << "no cvm::Error thrown";
  return Error(ErrorKind::internal, "none");
}

} // namespace cvm::pipeline::test
