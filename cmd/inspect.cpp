// SPDX-License-Identifier: Apache-2.0
// cvmforge inspect IMAGE: what an image contains, read-only. For an image
// cvmforge built: its layout and the LUKS2 header parameters (no key needed).
#include "cmd/app.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#ifdef CVM_WITH_IMAGE
#include "lib/baseimage/inspect.hpp"
#include "lib/guestfs/session.hpp"
#include "lib/luks/cryptsetup.hpp"
#include "lib/manifest/values.hpp"
#include "lib/util/fs.hpp"
#endif

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace cvm::cli {

namespace {

struct InspectArgs {
  std::string image;
  std::string format = "qcow2";
  bool image_format_flag = false;
  bool deprecated_format_flag = false; // --format, the spelling before --image-format
};

#ifdef CVM_WITH_IMAGE

// "argon2id, 4 iterations, 1 GiB, 4 threads" from a keyslot's pbkdf JSON.
std::string
kdf_summary(const nlohmann::ordered_json &pbkdf) {
  const std::string type = pbkdf.value("type", std::string("?"));
  if (type == "pbkdf2") {
    return fmt::format("pbkdf2-{}, {} iterations",
                       pbkdf.value("hash", std::string("?")),
                       pbkdf.value("iterations", std::uint64_t{0}));
  }
  return fmt::format("{}, {} iterations, {}, {} threads",
                     type,
                     pbkdf.value("time_cost", std::uint64_t{0}),
                     manifest::values::format_size(pbkdf.value("memory_kib", std::uint64_t{0}) << 10U),
                     pbkdf.value("parallel", std::uint64_t{0}));
}

// How the image boots, from what its ESP holds: GRUB (grub-install's
// grubx64.efi or its /EFI/debian directory), else a unified kernel image as
// the removable-media loader, else nothing (the host passes the kernel).
std::string
boot_mode(guestfs::Session &s, const nlohmann::ordered_json &parts) {
  for (const auto &p : parts) {
    if (p["filesystem"].get<std::string>() != "vfat") {
      continue;
    }
    try {
      s.mount_options("ro", p["device"].get<std::string>(), "/");
      const bool grub = s.is_file("/EFI/BOOT/grubx64.efi") || s.is_dir("/EFI/debian");
      const bool loader = s.is_file("/EFI/BOOT/BOOTX64.EFI");
      s.umount_all();
      if (grub) {
        return "grub (shim/GRUB on the ESP)";
      }
      if (loader) {
        return "uki (a unified kernel image on the ESP)";
      }
    } catch (const Error &e) {
      log::debug("boot mode: {} not readable: {}", p["device"].get<std::string>(), e.what());
    }
  }
  return "direct (the host passes kernel, initrd and command line)";
}

// The cvmforge facts an encrypted image cannot show without its key, from the
// build report written next to it (null when there is none).
nlohmann::ordered_json
report_facts(const std::string &image) {
  const std::string path = image + ".report.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return nullptr;
  }
  nlohmann::json r;
  try {
    r = nlohmann::json::parse(fs::read_text(path));
  } catch (const nlohmann::json::exception &e) {
    log::warning("{}: not JSON: {}", path, e.what());
    return nullptr;
  }
  nlohmann::ordered_json out;
  out["report"] = path;
  out["name"] = r.value("name", std::string());
  out["cvmforge_version"] = r.value("cvmforge_version", std::string());
  out["insecure_test"] = r.value("insecure_test", false);
  out["not_bound"] = r.contains("not_bound_marker");
  const auto att = r.value("attestation", nlohmann::json());
  if (att.is_object() && !att.empty()) {
    const auto kbs = att.value("kbs", nlohmann::json::object());
    out["attestation"] = fmt::format("{} ({} evidence), key from {}{}",
                                     att.value("agent", std::string("?")),
                                     att.value("tee", std::string("?")),
                                     kbs.value("kbs_urls", nlohmann::json::array()).dump(),
                                     out["not_bound"].get<bool>() ? "; NOT BOUND to its boot chain" : "");
  } else {
    out["attestation"] = "none (recovery passphrase only)";
  }
  const std::string ref = image + ".reference.json";
  out["reference_values"] = std::filesystem::is_regular_file(ref, ec) ? ref : "none";
  return out;
}

// The LUKS2 header lines of the text output (`where`: "" for a partition,
// "on the whole disk: " for a data volume).
void
print_luks(const nlohmann::ordered_json &l, std::string_view where) {
  fmt::print("LUKS2       {}{} {}-bit, {}-byte sectors, data at {} MiB\n",
             where,
             l["cipher"].get<std::string>(),
             l["key_size_bits"].get<int>(),
             l["sector_size"].get<int>(),
             l["data_offset"].get<std::uint64_t>() >> 20U);
  fmt::print("            uuid {}  label {}\n", l["uuid"].get<std::string>(), l["label"].get<std::string>());
  for (const auto &k : l["keyslots"]) {
    fmt::print("  keyslot {}  {}\n", k["slot"].get<int>(), kdf_summary(k["pbkdf"]));
  }
}

int
run_inspect(const InspectArgs &a, const GlobalOptions &g) {
  if (a.deprecated_format_flag && a.image_format_flag) {
    throw Error(ErrorKind::usage, "--format is the old spelling of --image-format: give one of them");
  }
  if (a.deprecated_format_flag) {
    log::warning(
        "inspect --format is deprecated; use --image-format (measure --format is the output format)");
  }
  guestfs::Session s;
  s.add_drive(a.image, a.format, guestfs::ReadOnly::yes);
  // The appliance takes from seconds (KVM) to half a minute (TCG) to start:
  // say what is happening instead of staying silent.
  log::info("starting the libguestfs appliance to read {} (read-only)...", a.image);
  try {
    s.launch();
  } catch (const Error &e) {
    throw Error(ErrorKind::input, "{}: cannot open it as a {} disk image: {}", a.image, a.format, e.what());
  }
  nlohmann::ordered_json j;
  j["image"] = a.image;
  j["format"] = a.format;
  const auto devices = s.list_devices();
  j["virtual_size"] = devices.empty() ? 0 : s.blockdev_getsize64(devices[0]);

  log::info("reading the partition table and filesystems...");
  // Partitions and filesystems, whatever the image is.
  nlohmann::ordered_json parts = nlohmann::ordered_json::array();
  std::optional<std::string> luks_partition;
  for (const auto &p : s.list_partitions()) {
    const std::string dev = s.part_to_dev(p);
    const int num = s.part_to_partnum(p);
    const std::string type = s.vfs_type(p);
    nlohmann::ordered_json pj{{"device", p}, {"number", num}, {"filesystem", type}, {"uuid", s.vfs_uuid(p)}};
    if (s.part_get_parttype(dev) == "gpt") {
      pj["gpt_type"] = s.part_get_gpt_type(dev, num);
      pj["gpt_type_name"] = baseimage::gpt_type_name(pj["gpt_type"].get<std::string>());
    }
    if (type == "crypto_LUKS" && !luks_partition) {
      luks_partition = p;
    }
    parts.push_back(pj);
  }
  j["partitions"] = parts;
  // A data volume (issue 12): LUKS2 on the whole disk, no partition table.
  const bool whole_disk_luks = parts.empty() && !devices.empty() && s.vfs_type(devices[0]) == "crypto_LUKS";

  if (whole_disk_luks) {
    fs::TempDir tmp("cvmforge-inspect");
    const auto header = tmp.path() / "header.luks2";
    const std::int64_t size = s.blockdev_getsize64(devices[0]);
    s.download_offset(devices[0], header, 0, std::min<std::int64_t>(size, 32LL << 20));
    log::info("reading the LUKS2 header...");
    j["luks"] = luks::header_info_to_json(luks::read_header_info(header));
    const std::string label = j["luks"]["label"].get<std::string>();
    const bool ours = j["luks"]["subsystem"] == "cvmforge" && label.starts_with("cvmforge-");
    j["cvmforge_built"] = ours;
    j["data_volume"] = ours ? nlohmann::ordered_json(label.substr(std::string_view("cvmforge-").size()))
                            : nlohmann::ordered_json(nullptr);
  } else if (luks_partition) {
    // The header region is at most 16 MiB + 8 MiB in headers cvmforge (and
    // cryptsetup defaults) write; the pure parser refuses anything larger.
    fs::TempDir tmp("cvmforge-inspect");
    const auto header = tmp.path() / "header.luks2";
    const std::int64_t size = s.blockdev_getsize64(*luks_partition);
    s.download_offset(*luks_partition, header, 0, std::min<std::int64_t>(size, 32LL << 20));
    log::info("reading the LUKS2 header...");
    j["cvmforge_built"] = true;
    j["luks"] = luks::header_info_to_json(luks::read_header_info(header));
    j["boot_mode"] = boot_mode(s, parts);
  } else {
    j["cvmforge_built"] = false;
    log::info("inspecting the guest operating system...");
    const auto facts = baseimage::inspect_base(s);
    std::vector<std::string> kernels;
    for (const auto &k : facts.kernels) {
      kernels.push_back(k.version);
    }
    j["os"] = {{"distro", facts.distro},
               {"version", fmt::format("{}.{}", facts.major_version, facts.minor_version)},
               {"product_name", facts.product_name}};
    j["root"] = {{"device", facts.root_device},
                 {"filesystem", facts.root_fs_type},
                 {"uuid", facts.root_uuid},
                 {"used_bytes", facts.root_used_bytes}};
    j["esp"] = {{"device", facts.esp_device}, {"mountpoint", facts.esp_mountpoint.value_or("")}};
    j["boot"] = facts.boot_device ? nlohmann::ordered_json{{"device", *facts.boot_device}}
                                  : nlohmann::ordered_json(nullptr);
    j["kernels"] = kernels;
    j["initramfs"] = {{"generator", std::string(manifest::to_string(facts.initramfs_generator))},
                      {"reason", facts.initramfs_reason}};
    j["bootloader"] = std::string(baseimage::to_string(facts.bootloader));
    j["efi_binaries"] = facts.efi_binaries;
  }
  s.shutdown();
  if (j["cvmforge_built"].get<bool>() && !j.contains("data_volume")) {
    j["build_report"] = report_facts(a.image);
  }

  if (g.json) {
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  using manifest::values::format_size;
  fmt::print("Image       {} ({}, {} virtual)\n",
             a.image,
             a.format,
             format_size(j["virtual_size"].get<std::uint64_t>()));
  fmt::print("{}\n", j["partitions"].empty() ? "Partitions  none" : "Partitions");
  for (const auto &p : j["partitions"]) {
    fmt::print("  {:<10} #{} {:<28} {:<12} {}\n",
               p["device"].get<std::string>(),
               p["number"].get<int>(),
               p.contains("gpt_type_name") ? p["gpt_type_name"].get<std::string>() : "",
               p["filesystem"].get<std::string>(),
               p["uuid"].get<std::string>());
  }
  if (j.contains("data_volume")) {
    const auto &l = j["luks"];
    print_luks(l, "on the whole disk: ");
    if (j["data_volume"].is_null()) {
      fmt::print("Volume      a LUKS2 disk that cvmforge did not make\n");
    } else {
      fmt::print("Volume      cvmforge data volume \"{}\": its image's agent opens it after attestation, "
                 "found as /dev/disk/by-uuid/{}\n",
                 j["data_volume"].get<std::string>(),
                 l["uuid"].get<std::string>());
    }
  } else if (j["cvmforge_built"].get<bool>()) {
    const auto &l = j["luks"];
    print_luks(l, "");
    fmt::print("  tokens {}  requirement flags {}\n",
               l["tokens"].get<std::size_t>(),
               l["requirement_flags"].get<int>());
    fmt::print("Boot        {}\n", j["boot_mode"].get<std::string>());
    const auto &r = j["build_report"];
    if (r.is_null()) {
      fmt::print("Build       no {}.report.json next to the image (attestation facts are in it)\n", a.image);
    } else {
      fmt::print("Build       {} (cvmforge {})\n",
                 r.value("name", std::string("?")),
                 r.value("cvmforge_version", std::string("?")));
      fmt::print("Attestation {}\n", r.value("attestation", std::string("?")));
      fmt::print("Reference   {}\n", r.value("reference_values", std::string("?")));
      if (r.value("insecure_test", false)) {
        fmt::print("INSECURE-TEST image (test agent, sample evidence): never deploy it\n");
      }
    }
  } else {
    fmt::print("OS          {}\n", j["os"]["product_name"].get<std::string>());
    fmt::print("Root        {} {} ({} used)\n",
               j["root"]["device"].get<std::string>(),
               j["root"]["filesystem"].get<std::string>(),
               format_size(j["root"]["used_bytes"].get<std::uint64_t>()));
    fmt::print("Kernels     {}\n", fmt::join(j["kernels"].get<std::vector<std::string>>(), ", "));
    fmt::print("Initramfs   {} ({})\n",
               j["initramfs"]["generator"].get<std::string>(),
               j["initramfs"]["reason"].get<std::string>());
    fmt::print("Bootloader  {}\n", j["bootloader"].get<std::string>());
  }
  return 0;
}

#else

int
run_inspect(const InspectArgs & /*a*/, const GlobalOptions & /*g*/) {
  throw Error(ErrorKind::usage, "this cvmforge was built without the image pipeline (CVM_WITH_IMAGE=OFF)");
}

#endif

} // namespace

void
register_inspect(CLI::App &app, const GlobalOptions &global, const std::shared_ptr<Action> &action) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App *sub = app.add_subcommand("inspect", "Show what an image contains (read-only; no key needed)");
  sub->add_option("image", args->image, "Disk image")
      ->required()
      ->type_name("IMAGE")
      ->check(CLI::ExistingFile);
  sub->add_option("--image-format", args->format, "qcow2 or raw (default qcow2; never guessed)")
      ->check(CLI::IsMember({"qcow2", "raw"}))
      ->each([args](const std::string &) { args->image_format_flag = true; });
  // The old spelling, hidden: `measure --format` is an output format, and one
  // flag name should not mean two things. Kept so existing scripts still work.
  sub->add_option("--format", args->format, "Deprecated spelling of --image-format")
      ->check(CLI::IsMember({"qcow2", "raw"}))
      ->group("")
      ->each([args](const std::string &) { args->deprecated_format_flag = true; });
  sub->callback(
      [args, &global, action]() { *action = [args, &global]() { return run_inspect(*args, global); }; });
}

} // namespace cvm::cli
