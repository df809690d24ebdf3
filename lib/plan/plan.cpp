// SPDX-License-Identifier: Apache-2.0
#include "lib/plan/plan.hpp"

#include "lib/manifest/to_json.hpp"
#include "lib/manifest/values.hpp"
#include "lib/plan/binding.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cvm::plan {

using manifest::Manifest;

bool
insecure_test(const Manifest &m) {
  return m.attestation.enabled && m.attestation.tee == manifest::Tee::sample;
}

std::vector<OutputFile>
output_files(const Manifest &m) {
  const std::string out = m.output.path.string();
  std::vector<OutputFile> files{
      {"output.path", m.output.path, "the encrypted image", false},
      {"output.key_file", m.output.key_file, "the disk key (0600): upload it to your key broker", true},
      {"output.report", m.output.report, "the build report (no key material)", false}};
  if (m.luks.recovery.enabled && !m.luks.recovery.passphrase_file) {
    files.push_back({"output.path", out + ".recovery", "the generated recovery passphrase (0600)", true});
  }
  if (!m.measurement.profile.empty()) {
    files.push_back({"output.reference_values",
                     m.output.reference_values,
                     "TDX reference values (MRTD, RTMR0-2) for profile " + m.measurement.profile,
                     false});
  }
  if (m.attestation.enabled) {
    files.push_back(
        {"output.path", out + ".kbs.json", "what the key broker needs: resource path, URLs", false});
    files.push_back({"output.path", out + ".resource-policy.rego", "the Trustee resource policy", false});
  }
  if (m.boot.mode == manifest::BootMode::direct) {
    for (const char *name : {"vmlinuz", "initrd.img", "cmdline"}) {
      files.push_back(
          {"output.path", out + "." + name, "direct boot: QEMU -kernel/-initrd/-append input", false});
    }
  }
  for (std::size_t i = 0; i < m.volumes.size(); ++i) {
    const manifest::Volume &v = m.volumes[i];
    const std::string key = fmt::format("volumes[{}]", i);
    files.push_back({key + ".output",
                     v.output,
                     fmt::format("data volume {}: its encrypted disk (attach it to the VM)", v.name),
                     false});
    files.push_back({key + ".key_file",
                     v.key_file,
                     fmt::format("data volume {}: its key (0600): upload it to your key broker as {}",
                                 v.name,
                                 v.resource_path),
                     true});
  }
  return files;
}

BuildPlan
make_plan(Manifest m) {
  BuildPlan plan;
  for (const StageSpec &s : stage_specs()) {
    plan.stages.push_back({s.index, std::string(s.name), s.heading(m), s.skip(m)});
  }
  if (m.attestation.enabled) {
    plan.binding = binding_verdict(m);
  }
  plan.manifest = std::move(m);
  return plan;
}

nlohmann::ordered_json
to_json(const BuildPlan &plan) {
  nlohmann::ordered_json j;
  j["manifest"] = manifest::to_json(plan.manifest);
  auto stages = nlohmann::ordered_json::array();
  for (const auto &s : plan.stages) {
    nlohmann::ordered_json sj{{"name", s.name}, {"heading", s.heading}, {"run", !s.skip_reason.has_value()}};
    if (s.skip_reason) {
      sj["skip_reason"] = *s.skip_reason;
    }
    stages.push_back(sj);
  }
  j["stages"] = stages;
  auto outputs = nlohmann::ordered_json::array();
  for (const auto &f : output_files(plan.manifest)) {
    outputs.push_back({{"path", f.path.string()}, {"what", f.what}, {"secret", f.secret}});
  }
  j["outputs"] = outputs;
  j["insecure_test"] = insecure_test(plan.manifest);
  if (plan.binding) {
    j["binding"] = measure::to_json(*plan.binding);
    j["binding"]["insecure_allow_unbound"] = plan.manifest.attestation.insecure_allow_unbound;
  }
  return j;
}

std::string
to_text(const BuildPlan &plan) {
  const Manifest &m = plan.manifest;
  std::string out;
  out += fmt::format("Manifest  {}\n", m.manifest_path.string());
  out += fmt::format("Base      {} ({})\n", m.base.path.string(), manifest::to_string(m.base.format));
  out += fmt::format("Output    {} ({}, size {})\n",
                     m.output.path.string(),
                     manifest::to_string(m.output.format),
                     m.output.size_policy == manifest::SizePolicy::fixed
                         ? manifest::values::format_size(m.output.size_bytes)
                         : fmt::format("fit + {}%, at least {}",
                                       m.output.headroom_percent,
                                       manifest::values::format_size(m.output.headroom_min_bytes)));
  out += fmt::format("Key       {}\n",
                     m.key.source == manifest::KeySource::generate ? "generated (fresh randomness)"
                                                                   : "read from key.file");
  out += fmt::format("Layout    GPT: ESP {} | /boot ext4 {} | LUKS2 root ({})\n",
                     manifest::values::format_size(m.partitions.esp.size_bytes),
                     manifest::values::format_size(m.partitions.boot.size_bytes),
                     manifest::to_string(m.partitions.root.filesystem));
  out += fmt::format("LUKS2     {} {}-bit, {}-byte sectors, {} keyslot{}{}\n",
                     m.luks.cipher,
                     m.luks.key_size_bits,
                     m.luks.sector_size,
                     manifest::to_string(m.luks.pbkdf.type),
                     m.luks.recovery.enabled ? " + recovery passphrase keyslot" : "",
                     m.luks.integrity ? ", integrity " + *m.luks.integrity : "");
  out += fmt::format("Initramfs {}\n", manifest::to_string(m.initramfs));
  out += fmt::format(
      "Boot      {}{}\n",
      manifest::to_string(m.boot.mode),
      m.boot.cmdline_add.empty() ? "" : fmt::format(", cmdline += {}", fmt::join(m.boot.cmdline_add, " ")));
  if (m.attestation.enabled) {
    out += fmt::format("Attest    {} via {} (resource {})\n",
                       manifest::to_string(m.attestation.tee),
                       fmt::join(m.attestation.kbs_urls, ", "),
                       m.attestation.resource_path);
  } else {
    out += "Attest    disabled (recovery passphrase only)\n";
  }
  for (const manifest::Volume &v : m.volumes) {
    out +=
        fmt::format("Volume    {}: built, {} {} at {} ({}, {}){}; LUKS2 like the root, resource {}\n",
                    v.name,
                    manifest::values::format_size(v.size_bytes),
                    manifest::to_string(v.filesystem),
                    v.mount,
                    v.required ? "required: no boot without it" : "optional: the boot goes on without it",
                    v.mount_options.empty() ? "defaults" : fmt::format("{}", fmt::join(v.mount_options, ",")),
                    v.source ? fmt::format(", seeded from {}", v.source->string()) : std::string(),
                    v.resource_path);
  }
  if (m.measurement.profile.empty()) {
    out += "Measure   no measurement.profile: no reference values are computed\n";
  } else {
    const auto it = m.measurement.profiles.find(m.measurement.profile);
    if (it != m.measurement.profiles.end()) {
      const auto &p = it->second;
      out += fmt::format("Measure   profile {}: {} vCPUs, {}, QEMU {}, {}\n",
                         p.name.empty() ? m.measurement.profile : p.name,
                         p.vcpus,
                         manifest::values::format_size(p.memory_bytes),
                         p.qemu_version,
                         p.ovmf_version.empty() ? "firmware version not given" : p.ovmf_version);
    } else {
      out += fmt::format("Measure   profile {}\n", m.measurement.profile);
    }
  }
  if (insecure_test(m)) {
    out += "\nINSECURE-TEST: attestation.tee is sample: the test flavour of the agent accepts sample\n"
           "evidence from any machine. For tests only; never deploy this image or its key.\n";
  }
  out += "\nWrites\n";
  for (const auto &f : output_files(m)) {
    out += fmt::format("  {}\n      {}{}\n", f.path.string(), f.what, f.secret ? "  [secret]" : "");
  }
  if (plan.binding) {
    out += "\n" + measure::to_text(*plan.binding);
    if (!plan.binding->bindable() && m.attestation.insecure_allow_unbound) {
      out += "  NOT BOUND: allowed by attestation.insecure_allow_unbound (test setups only)\n";
    }
  }
  out += "\nStages\n";
  int i = 1;
  for (const auto &s : plan.stages) {
    if (s.skip_reason) {
      out += fmt::format("  {:2}. {:<24} skip: {}\n", i, s.name, *s.skip_reason);
    } else {
      out += fmt::format("  {:2}. {:<24} {}\n", i, s.name, s.heading);
    }
    ++i;
  }
  return out;
}

} // namespace cvm::plan
