// SPDX-License-Identifier: Apache-2.0
// cvmforge inspect IMAGE: what an image contains, read-only. For an image
// cvmforge built: its layout and the LUKS2 header parameters (no key needed).
#include "cmd/app.hpp"
#include "lib/util/error.hpp"

#ifdef CVM_WITH_IMAGE
#include "lib/guestfs/inspect.hpp"
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
};

#ifdef CVM_WITH_IMAGE

int
run_inspect(const InspectArgs &a, const GlobalOptions &g) {
  if (!std::filesystem::exists(a.image)) {
    throw Error(ErrorKind::input, "{}: no such file", a.image);
  }
  guestfs::Session s;
  s.add_drive(a.image, a.format, guestfs::ReadOnly::yes);
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
    }
    if (type == "crypto_LUKS" && !luks_partition) {
      luks_partition = p;
    }
    parts.push_back(pj);
  }
  j["partitions"] = parts;

  if (luks_partition) {
    // The header region is at most 16 MiB + 8 MiB in headers cvmforge (and
    // cryptsetup defaults) write; the pure parser refuses anything larger.
    fs::TempDir tmp("cvmforge-inspect");
    const auto header = tmp.path() / "header.luks2";
    const std::int64_t size = s.blockdev_getsize64(*luks_partition);
    s.download_offset(*luks_partition, header, 0, std::min<std::int64_t>(size, 32LL << 20));
    j["cvmforge_built"] = true;
    j["luks"] = luks::header_info_to_json(luks::read_header_info(header));
  } else {
    j["cvmforge_built"] = false;
    const auto facts = guestfs::inspect_base(s);
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
    j["initramfs"] = {{"generator", std::string(guestfs::to_string(facts.initramfs_generator))},
                      {"reason", facts.initramfs_reason}};
    j["bootloader"] = std::string(guestfs::to_string(facts.bootloader));
    j["efi_binaries"] = facts.efi_binaries;
  }
  s.shutdown();

  if (g.json) {
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  using manifest::values::format_size;
  fmt::print("Image       {} ({}, {} virtual)\n",
             a.image,
             a.format,
             format_size(j["virtual_size"].get<std::uint64_t>()));
  fmt::print("Partitions\n");
  for (const auto &p : j["partitions"]) {
    fmt::print("  {:<10} #{} {:<12} {}{}\n",
               p["device"].get<std::string>(),
               p["number"].get<int>(),
               p["filesystem"].get<std::string>(),
               p["uuid"].get<std::string>(),
               p.contains("gpt_type") ? "  type " + p["gpt_type"].get<std::string>() : "");
  }
  if (j["cvmforge_built"].get<bool>()) {
    const auto &l = j["luks"];
    fmt::print("LUKS2       {} {}-bit, {}-byte sectors, data at {} MiB\n",
               l["cipher"].get<std::string>(),
               l["key_size_bits"].get<int>(),
               l["sector_size"].get<int>(),
               l["data_offset"].get<std::uint64_t>() >> 20U);
    fmt::print(
        "            uuid {}  label {}\n", l["uuid"].get<std::string>(), l["label"].get<std::string>());
    for (const auto &k : l["keyslots"]) {
      fmt::print("  keyslot {}  {}\n", k["slot"].get<int>(), k["pbkdf"].dump());
    }
    fmt::print("  tokens {}  requirement flags {}\n",
               l["tokens"].get<std::size_t>(),
               l["requirement_flags"].get<int>());
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
register_inspect(CLI::App &app, const GlobalOptions &global, std::shared_ptr<Action> action) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App *sub = app.add_subcommand("inspect", "Show what an image contains (read-only; no key needed)");
  sub->add_option("image", args->image, "Disk image")->required()->type_name("IMAGE");
  sub->add_option("--format", args->format, "Image format (never guessed)")
      ->check(CLI::IsMember({"qcow2", "raw"}));
  sub->callback(
      [args, &global, action]() { *action = [args, &global]() { return run_inspect(*args, global); }; });
}

} // namespace cvm::cli
