// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "lib/manifest/manifest.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cvm::pipeline {
struct BuildContext;
} // namespace cvm::pipeline

// The stages of `cvmforge build`. Each stage is one struct below, and the
// list `Stages` puts them in the order they run: that entry is the whole
// description of a stage.
//
//   name      "copy-root": progress lines, --json events, the report
//   heading   what the progress line says while it runs
//   skip      why the stage does not run for a manifest; nullopt: it runs
//   run       the work, defined in lib/pipeline/stages/<name>.cpp
//
// `cvmforge plan` reads name, heading and skip; the executor
// (lib/pipeline/pipeline.cpp) calls run through the same list. This library
// only declares run, so `plan` and `validate` still link without libguestfs
// and libcryptsetup; a stage whose run is not defined is a link error of
// every program that builds images.
namespace cvm::plan {

using Skip = std::optional<std::string>;

// A string literal as a template argument.
template<std::size_t N> struct Literal {
  std::array<char, N> text{};
  constexpr Literal(const char (&s)[N]) { // implicit: Heading<"...">
    for (std::size_t i = 0; i < N; ++i) {
      text[i] = s[i];
    }
  }
  [[nodiscard]] constexpr std::string_view
  view() const {
    return {text.data(), N - 1};
  }
};

// The heading of a stage whose progress line does not depend on the manifest.
template<Literal Text> struct Heading {
  static std::string
  heading(const manifest::Manifest & /*unused*/) {
    return std::string(Text.view());
  }
};

// The skip rule of a stage that always runs.
struct AlwaysRuns {
  static Skip
  skip(const manifest::Manifest & /*unused*/) {
    return std::nullopt;
  }
};

// The base image is what the manifest says; no output would be overwritten.
struct CheckInputs : AlwaysRuns, Heading<"Checking inputs and outputs"> {
  static constexpr std::string_view name = "check-inputs";
  static void run(pipeline::BuildContext &ctx);
};

// What the base contains; whether cvmforge can convert it.
struct InspectBase : AlwaysRuns, Heading<"Inspecting the base image"> {
  static constexpr std::string_view name = "inspect-base";
  static void run(pipeline::BuildContext &ctx);
};

// Disk key, volume key, recovery and build passphrases.
struct PrepareKey : AlwaysRuns {
  static constexpr std::string_view name = "prepare-key";
  static std::string
  heading(const manifest::Manifest &m) {
    return m.key.source == manifest::KeySource::file ? "Reading the disk key file"
                                                     : "Generating the disk key";
  }
  static void run(pipeline::BuildContext &ctx);
};

// The output qcow2 and its GPT.
struct CreateOutput : AlwaysRuns, Heading<"Creating the output image and its partition table"> {
  static constexpr std::string_view name = "create-output";
  static void run(pipeline::BuildContext &ctx);
};

// Both LUKS2 headers (libcryptsetup); the build header onto the root partition.
struct FormatLuks : AlwaysRuns, Heading<"Writing the LUKS2 header"> {
  static constexpr std::string_view name = "format-luks";
  static void run(pipeline::BuildContext &ctx);
};

// A new FAT ESP with the base's files.
struct CopyEsp : AlwaysRuns, Heading<"Copying the EFI system partition"> {
  static constexpr std::string_view name = "copy-esp";
  static void run(pipeline::BuildContext &ctx);
};

// Opens the LUKS2 volume and copies the root into it: the encryption.
struct CopyRoot : AlwaysRuns, Heading<"Copying the root filesystem into the LUKS2 volume"> {
  static constexpr std::string_view name = "copy-root";
  static void run(pipeline::BuildContext &ctx);
};

// The manifest's data volumes: each its own LUKS2 disk, written, closed
// and given its final header here.
struct MakeVolumes : Heading<"Writing the encrypted data volumes"> {
  static constexpr std::string_view name = "make-volumes";
  static Skip
  skip(const manifest::Manifest &m) {
    return m.volumes.empty() ? Skip("the manifest has no volumes") : std::nullopt;
  }
  static void run(pipeline::BuildContext &ctx);
};

// The manifest's files:.
struct InjectFiles : Heading<"Injecting files"> {
  static constexpr std::string_view name = "inject-files";
  static Skip
  skip(const manifest::Manifest &m) {
    return m.files.empty() ? Skip("the manifest lists no files") : std::nullopt;
  }
  static void run(pipeline::BuildContext &ctx);
};

// The attestation agent and its initramfs hooks.
struct InjectAgent : Heading<"Installing the attestation agent and initramfs hooks"> {
  static constexpr std::string_view name = "inject-agent";
  static Skip
  skip(const manifest::Manifest &m) {
    return m.attestation.enabled ? std::nullopt : Skip("attestation is disabled");
  }
  static void run(pipeline::BuildContext &ctx);
};

// fstab, crypttab, initramfs and GRUB configuration.
struct ConfigureBoot : AlwaysRuns, Heading<"Writing fstab, crypttab and the boot loader configuration"> {
  static constexpr std::string_view name = "configure-boot";
  static void run(pipeline::BuildContext &ctx);
};

// The guest's own initramfs generator and GRUB.
struct RebuildInitramfs : AlwaysRuns {
  static constexpr std::string_view name = "rebuild-initramfs";
  static std::string
  heading(const manifest::Manifest &m) {
    return m.boot.mode == manifest::BootMode::grub
               ? "Regenerating the initramfs and GRUB with the guest's own tools"
               : "Regenerating the initramfs with the guest's own tools";
  }
  static void run(pipeline::BuildContext &ctx);
};

// boot.mode uki: the unified kernel image on the ESP.
struct MakeUki : Heading<"Assembling the unified kernel image (guest's systemd EFI stub) onto the ESP"> {
  static constexpr std::string_view name = "make-uki";
  static Skip
  skip(const manifest::Manifest &m) {
    return m.boot.mode == manifest::BootMode::uki
               ? std::nullopt
               : Skip(std::string("boot.mode is ") + to_string(m.boot.mode));
  }
  static void run(pipeline::BuildContext &ctx);
};

// Kernel, initrd, command line (and GPT, loaders) to the host.
struct ExtractBootArtifacts : AlwaysRuns,
                              Heading<"Extracting kernel, initrd and command line for measurement"> {
  static constexpr std::string_view name = "extract-boot-artifacts";
  static void run(pipeline::BuildContext &ctx);
};

// The final LUKS2 header replaces the build header; checked shutdown.
struct CloseImage : AlwaysRuns, Heading<"Closing the image (final LUKS2 header, checked shutdown)"> {
  static constexpr std::string_view name = "close-image";
  static void run(pipeline::BuildContext &ctx);
};

// TDX reference values.
struct Measure : Heading<"Computing TDX reference values"> {
  static constexpr std::string_view name = "measure";
  static Skip
  skip(const manifest::Manifest &m) {
    return m.measurement.profile.empty() ? Skip("no measurement.profile in the manifest") : std::nullopt;
  }
  static void run(pipeline::BuildContext &ctx);
};

// Image, key, report and side files at their final paths.
struct Commit : AlwaysRuns, Heading<"Putting the image, key file and report in place"> {
  static constexpr std::string_view name = "commit";
  static void run(pipeline::BuildContext &ctx);
};

// What a stage struct provides.
template<class S>
concept BuildStage = requires(const manifest::Manifest &m, pipeline::BuildContext &ctx) {
  { S::name } -> std::convertible_to<std::string_view>;
  { S::heading(m) } -> std::same_as<std::string>;
  { S::skip(m) } -> std::same_as<Skip>;
  { S::run(ctx) } -> std::same_as<void>;
};

template<BuildStage... S> struct StageList { static constexpr std::size_t size = sizeof...(S); };

// The stages, in the order they run.
using Stages = StageList<CheckInputs,
                         InspectBase,
                         PrepareKey,
                         CreateOutput,
                         FormatLuks,
                         CopyEsp,
                         CopyRoot,
                         MakeVolumes,
                         InjectFiles,
                         InjectAgent,
                         ConfigureBoot,
                         RebuildInitramfs,
                         MakeUki,
                         ExtractBootArtifacts,
                         CloseImage,
                         Measure,
                         Commit>;

inline constexpr std::size_t k_stage_count = Stages::size;

// A stage's row, as `plan` and the executor read it.
struct StageSpec {
  std::size_t index;     // its position in Stages
  std::string_view name; // "copy-root"
  std::string (*heading)(const manifest::Manifest &);
  Skip (*skip)(const manifest::Manifest &);
};

namespace detail {
template<class... S>
constexpr std::array<StageSpec, sizeof...(S)>
make_specs(StageList<S...> /*unused*/) {
  std::size_t i = 0;
  return {{StageSpec{i++, S::name, &S::heading, &S::skip}...}};
}

template<class T, class... S>
constexpr std::size_t
index_in(StageList<S...> /*unused*/) {
  std::size_t i = 0;
  const std::array<bool, sizeof...(S)> same{std::same_as<T, S>...};
  while (i < same.size() && !same[i]) {
    ++i;
  }
  if (i == same.size()) {
    throw "not a stage of plan::Stages"; // a compile error where it is evaluated
  }
  return i;
}

// Every stage has a name, and no two share one (the report and --json
// events are keyed by it).
template<class... S>
constexpr bool
names_unique(StageList<S...> /*unused*/) {
  const std::array<std::string_view, sizeof...(S)> names{S::name...};
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      return false;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (names[i] == names[j]) {
        return false;
      }
    }
  }
  return true;
}
} // namespace detail

static_assert(detail::names_unique(Stages{}), "every stage needs a name of its own");

inline constexpr std::array<StageSpec, k_stage_count> k_stage_specs = detail::make_specs(Stages{});

// The position of stage S in Stages.
template<BuildStage S> inline constexpr std::size_t k_stage_index = detail::index_in<S>(Stages{});

// The table, in execution order.
constexpr std::span<const StageSpec, k_stage_count>
stage_specs() {
  return k_stage_specs;
}

} // namespace cvm::plan
