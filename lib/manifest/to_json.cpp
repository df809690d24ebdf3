// SPDX-License-Identifier: Apache-2.0
#include "lib/manifest/to_json.hpp"

#include <fmt/format.h>

namespace cvm::manifest {

namespace {

nlohmann::ordered_json
pbkdf_json(const Pbkdf &p) {
  nlohmann::ordered_json j;
  j["type"] = to_string(p.type);
  if (p.type == PbkdfType::pbkdf2) {
    j["hash"] = p.hash;
    j["iterations"] = p.iterations;
  } else {
    j["iterations"] = p.iterations;
    j["memory_kib"] = p.memory_kib;
    j["parallel"] = p.parallel;
  }
  return j;
}

nlohmann::ordered_json
opt_path(const std::optional<std::filesystem::path> &p) {
  return p ? nlohmann::ordered_json(p->string()) : nlohmann::ordered_json(nullptr);
}

} // namespace

nlohmann::ordered_json
to_json(const Manifest &m) {
  nlohmann::ordered_json j;
  j["version"] = m.version;
  j["name"] = m.name;
  j["manifest"] = m.manifest_path.string();
  j["base"] = {{"path", m.base.path.string()}, {"format", to_string(m.base.format)}};
  nlohmann::ordered_json size;
  size["policy"] = to_string(m.output.size_policy);
  if (m.output.size_policy == SizePolicy::fixed) {
    size["size"] = m.output.size_bytes;
  } else {
    size["headroom_percent"] = m.output.headroom_percent;
    size["headroom_min"] = m.output.headroom_min_bytes;
  }
  j["output"] = {{"path", m.output.path.string()},
                 {"format", to_string(m.output.format)},
                 {"size", size},
                 {"key_file", m.output.key_file.string()},
                 {"report", m.output.report.string()},
                 {"reference_values", m.output.reference_values.string()}};
  auto part = [](const Partition &p) {
    nlohmann::ordered_json pj;
    if (p.size_bytes != 0) {
      pj["size"] = p.size_bytes;
    }
    pj["label"] = p.label;
    pj["filesystem"] = to_string(p.filesystem);
    return pj;
  };
  j["partitions"] = {
      {"esp", part(m.partitions.esp)}, {"boot", part(m.partitions.boot)}, {"root", part(m.partitions.root)}};
  // The ESP is always FAT (the firmware reads it); the schema's filesystem
  // type covers /boot and root only.
  j["partitions"]["esp"]["filesystem"] = "vfat";
  nlohmann::ordered_json recovery{{"enabled", m.luks.recovery.enabled}};
  if (m.luks.recovery.enabled) {
    recovery["passphrase_file"] = opt_path(m.luks.recovery.passphrase_file);
    recovery["pbkdf"] = pbkdf_json(m.luks.recovery.pbkdf);
  }
  j["luks"] = {
      {"cipher", m.luks.cipher},
      {"key_size", m.luks.key_size_bits},
      {"sector_size", m.luks.sector_size},
      {"pbkdf", pbkdf_json(m.luks.pbkdf)},
      {"label", m.luks.label},
      {"mapper_name", m.luks.mapper_name},
      {"integrity",
       m.luks.integrity ? nlohmann::ordered_json(*m.luks.integrity) : nlohmann::ordered_json("none")},
      {"recovery", recovery}};
  j["key"] = {{"source", to_string(m.key.source)}, {"file", opt_path(m.key.file)}, {"bytes", m.key.bytes}};
  j["initramfs"] = {{"backend", to_string(m.initramfs)}};
  nlohmann::ordered_json att{{"enabled", m.attestation.enabled}};
  if (m.attestation.enabled) {
    att["kbs_urls"] = m.attestation.kbs_urls;
    att["ca_cert"] = opt_path(m.attestation.ca_cert);
    att["resource_path"] = m.attestation.resource_path;
    att["tee"] = to_string(m.attestation.tee);
    att["insecure_allow_unbound"] = m.attestation.insecure_allow_unbound;
    att["timeouts"] = {{"connect_s", m.attestation.timeouts.connect_s},
                       {"request_s", m.attestation.timeouts.request_s},
                       {"total_s", m.attestation.timeouts.total_s}};
    att["retries"] = {{"attempts", m.attestation.retries.attempts},
                      {"backoff_initial_ms", m.attestation.retries.backoff_initial_ms},
                      {"backoff_max_ms", m.attestation.retries.backoff_max_ms}};
  }
  j["attestation"] = att;
  j["boot"] = {{"mode", to_string(m.boot.mode)}, {"cmdline_add", m.boot.cmdline_add}};
  auto files = nlohmann::ordered_json::array();
  for (const auto &f : m.files) {
    files.push_back({{"source", f.source.string()},
                     {"dest", f.dest},
                     {"mode", fmt::format("{:04o}", f.mode)},
                     {"uid", f.uid},
                     {"gid", f.gid}});
  }
  j["files"] = files;
  auto volumes = nlohmann::ordered_json::array();
  for (const auto &v : m.volumes) {
    volumes.push_back({{"name", v.name},
                       {"kind", to_string(v.kind)},
                       {"mount", v.mount},
                       {"filesystem", to_string(v.filesystem)},
                       {"size", v.size_bytes},
                       {"mount_options", v.mount_options},
                       {"required", v.required},
                       {"resource_path", v.resource_path},
                       {"source", opt_path(v.source)},
                       {"output", v.output.string()},
                       {"key_file", v.key_file.string()},
                       {"mapper_name", v.mapper_name},
                       {"label", v.label}});
  }
  j["volumes"] = volumes;
  nlohmann::ordered_json profiles = nlohmann::ordered_json::object();
  for (const auto &[name, p] : m.measurement.profiles) {
    profiles[name] = {
        {"vcpus", p.vcpus},
        {"memory", p.memory_bytes},
        {"qemu_version", p.qemu_version},
        {"ovmf_version",
         p.ovmf_version.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(p.ovmf_version)},
        {"firmware", opt_path(p.firmware)},
        {"platform", opt_path(p.platform)},
        {"reference_ccel", opt_path(p.reference_ccel)}};
  }
  j["measurement"] = {{"profile",
                       m.measurement.profile.empty() ? nlohmann::ordered_json(nullptr)
                                                     : nlohmann::ordered_json(m.measurement.profile)},
                      {"profiles", profiles}};
  j["reproducibility"] = {{"source_date_epoch",
                           m.reproducibility.source_date_epoch
                               ? nlohmann::ordered_json(*m.reproducibility.source_date_epoch)
                               : nlohmann::ordered_json(nullptr)},
                          {"seed",
                           m.reproducibility.seed.empty() ? nlohmann::ordered_json(nullptr)
                                                          : nlohmann::ordered_json(m.reproducibility.seed)}};
  return j;
}

} // namespace cvm::manifest
