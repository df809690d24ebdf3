// SPDX-License-Identifier: Apache-2.0
#include "lib/pipeline/agent_install.hpp"

#include "lib/kbs/agent_config.hpp"
#include "lib/pipeline/bootcfg.hpp"
#include "lib/plan/binding.hpp"
#include "lib/template/template.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"
#include "lib/util/log.hpp"
#include "measurement/reference.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace cvm::pipeline::agent {

namespace {

bool
is_executable_file(const std::filesystem::path &p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

std::filesystem::path
exe_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

std::string
q(std::string_view v) {
  return tmpl::shell_quote(v);
}

} // namespace

Flavour
flavour_for(const manifest::Attestation &attestation) {
  if (attestation.tee == manifest::Tee::sample) {
    return {"cvmforge-agent-test", true};
  }
  return {"cvmforge-agent", false};
}

std::filesystem::path
find_bundle(const std::filesystem::path &configured, const Flavour &flavour) {
  std::vector<std::filesystem::path> candidates;
  if (!configured.empty()) {
    candidates.push_back(configured);
  } else if (const char *env = std::getenv("CVMFORGE_AGENT_DIR"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  } else if (const auto dir = exe_dir(); !dir.empty()) {
    candidates.push_back(dir / ".." / "agent-bundle");
    candidates.push_back(dir / ".." / "lib" / "cvmforge-agent");
  }
  std::vector<std::string> tried;
  for (const auto &c : candidates) {
    const auto bundle = c / flavour.name;
    if (is_executable_file(bundle / flavour.name)) {
      return std::filesystem::weakly_canonical(bundle);
    }
    tried.push_back(bundle.lexically_normal().string());
  }
  throw Error(ErrorKind::input,
              "the {} agent bundle was not found (tried: {}); build it with 'ninja {}-bundle' or set "
              "CVMFORGE_AGENT_DIR to the directory holding {}/",
              flavour.name,
              tried.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(tried, ", ")),
              flavour.name,
              flavour.name);
}

std::string
luks_device(std::string_view luks_uuid) {
  return fmt::format("/dev/disk/by-uuid/{}", luks_uuid);
}

std::optional<bool>
kernel_can_extend_rtmr(std::string_view kernel_version) {
  const auto v = plan::kernel_major_minor(kernel_version);
  if (!v) {
    return std::nullopt;
  }
  return *v >= std::make_pair(6, 16);
}

std::string
volume_header_policy(std::string_view name) {
  return fmt::format("{}/volumes/{}.luks-header-policy.json", k_etc_dir, name);
}

std::string
volume_header_copy(std::string_view name) {
  return fmt::format("/run/cvmforge/volumes/{}.luks2", name);
}

std::string
agent_config_json(const manifest::Manifest &m,
                  std::string_view luks_uuid,
                  std::size_t key_size,
                  std::span<const VolumeAgent> volumes) {
  const auto &a = m.attestation;
  kbs::AgentConfig config;
  config.kbs_urls = a.kbs_urls;
  if (a.ca_cert) {
    config.ca_cert = k_ca_cert;
  }
  config.resource = kbs::ResourcePath::parse(a.resource_path);
  config.tee = manifest::to_string(a.tee);
  config.key_size = key_size;
  config.http.connect_timeout = std::chrono::seconds(a.timeouts.connect_s);
  config.http.io_timeout = std::chrono::seconds(a.timeouts.request_s);
  config.retry.attempts = a.retries.attempts;
  config.retry.initial_backoff = std::chrono::milliseconds(a.retries.backoff_initial_ms);
  config.retry.max_backoff = std::chrono::milliseconds(a.retries.backoff_max_ms);
  config.luks = kbs::LuksTarget{luks_device(luks_uuid), m.luks.mapper_name, k_header_policy, k_header_copy};
  for (const VolumeAgent &va : volumes) {
    const manifest::Volume &v = *va.volume;
    kbs::VolumeTarget target;
    target.name = v.name;
    target.resource = kbs::ResourcePath::parse(v.resource_path);
    target.device = luks_device(va.luks_uuid);
    target.mapper_name = v.mapper_name;
    target.header_policy = volume_header_policy(v.name);
    target.header_copy = volume_header_copy(v.name);
    target.required = v.required;
    target.key_size = 64;
    if (!v.required) {
      target.mount_unit = bootcfg::mount_unit_name(v.mount);
    }
    config.volumes.push_back(std::move(target));
  }
  std::string text = kbs::agent_config_json(config);
  // The agent refuses a config it cannot parse at boot, with no way to fix
  // the image then: refuse it now instead.
  (void)kbs::parse_agent_config(text);
  return text;
}

std::vector<std::string>
attestation_kernel_parameters(manifest::InitramfsGenerator initramfs_backend,
                              std::vector<std::string> params) {
  std::erase_if(params, [](const std::string &p) {
    return p.starts_with("rd.luks.name=") || p.starts_with("rd.luks.uuid=") || p.starts_with("ip=") ||
           p.starts_with("rd.neednet=") || p.starts_with("rd.luks=");
  });
  // After root= (first), before the manifest's additions would be nicer, but
  // order does not matter to the kernel or either initramfs.
  if (initramfs_backend == manifest::InitramfsGenerator::dracut) {
    params.emplace_back("rd.neednet=1");
    params.emplace_back("ip=dhcp");
    params.emplace_back("rd.luks=0");
  } else {
    params.emplace_back("ip=dhcp");
  }
  return params;
}

std::filesystem::path
resource_policy_path(const manifest::Manifest &m) {
  return m.output.path.string() + ".resource-policy.rego";
}

PolicyPins
policy_pins(const nlohmann::json &reference, std::span<const int> rtmrs) {
  PolicyPins pins;
  try {
    const auto &mrtd = reference.at("mrtd");
    const auto &selected = mrtd.at("selected");
    if (selected.is_null()) {
      pins.mrtd = {mrtd.at("single_pass").get<std::string>(), mrtd.at("two_pass").get<std::string>()};
    } else {
      pins.mrtd = {mrtd.at(selected.get<std::string>()).get<std::string>()};
    }
    std::sort(pins.mrtd.begin(), pins.mrtd.end());
    pins.mrtd.erase(std::unique(pins.mrtd.begin(), pins.mrtd.end()), pins.mrtd.end());
    for (const int i : rtmrs) {
      if (i < 0 || i > 3) {
        throw Error(ErrorKind::internal, "policy_pins: there is no RTMR{}", i);
      }
      const auto &value = reference.at("rtmr").at(std::to_string(i));
      if (value.is_string()) {
        pins.rtmr[i] = value.get<std::string>();
        continue;
      }
      std::string why = "not predicted";
      for (const auto &e : reference.value("events", nlohmann::json::array())) {
        if (e.value("rtmr", -1) == i && !e.value("digest", nlohmann::json()).is_string()) {
          why = fmt::format("event {} not predicted: {}",
                            e.value("label", std::string("?")),
                            e.value("not_predicted", std::string("no reason given")));
          break;
        }
      }
      pins.not_pinned[i] = why;
    }
  } catch (const nlohmann::json::exception &e) {
    throw Error(ErrorKind::input, "reference values ({}): {}", measure::k_measurement_schema, e.what());
  }
  return pins;
}

PolicyPins
policy_pins(const measure::Prediction &prediction, std::span<const int> rtmrs) {
  return policy_pins(measure::prediction_to_json(prediction), rtmrs);
}

void
require_policy_reference_values(const manifest::Manifest &m) {
  if (!m.attestation.enabled || m.attestation.tee != manifest::Tee::tdx || !m.measurement.profile.empty()) {
    return;
  }
  const auto loc = m.where("attestation.tee");
  throw Error(ErrorKind::input,
              "{}:{}:{}: attestation with tdx evidence needs measurement.profile: the KBS resource "
              "policy releases the disk key only to this image's MRTD and RTMRs, and without a "
              "platform profile there are no reference values to pin (a policy that releases the key "
              "to any affirmed TD would release it to every other image the KBS serves)",
              loc.file,
              loc.line,
              loc.column);
}

namespace {

bool
is_register_hex(std::string_view v) {
  return v.size() == 96 && std::all_of(v.begin(), v.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string
rego_string(std::string_view v) {
  return nlohmann::json(std::string(v)).dump();
}

} // namespace

std::string
resource_policy(const manifest::Manifest &m, const std::optional<PolicyPins> &pins) {
  const auto &a = m.attestation;
  // The disk key and every data volume's key: one rule each (Rego ORs rules
  // of one name), the same conditions for all.
  std::vector<std::string> paths{a.resource_path};
  for (const manifest::Volume &v : m.volumes) {
    paths.push_back(v.resource_path);
  }
  std::vector<std::string> rules;
  for (const std::string &path : paths) {
    nlohmann::json segments = nlohmann::json::array();
    std::string_view rest = path;
    while (!rest.empty()) {
      const auto slash = rest.find('/');
      segments.push_back(std::string(rest.substr(0, slash)));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    rules.push_back(fmt::format(
        "resource_requested if {{\n\tdata.plugin == \"resource\"\n\tdata[\"resource-path\"] == {}\n}}",
        segments.dump()));
  }
  const std::string resource_rules = fmt::format("{}", fmt::join(rules, "\n\n"));
  const std::string resource_list = fmt::format("{}", fmt::join(paths, ", "));
  const std::string evidence(manifest::to_string(a.tee));
  const auto dir = tmpl::templates_dir() / "kbs";
  if (a.tee == manifest::Tee::sample) {
    return tmpl::render_file(dir / "resource-policy-sample.rego.in",
                             {{"image", m.name},
                              {"resource_path", resource_list},
                              {"resource_rules", resource_rules},
                              {"evidence", evidence},
                              {"evidence_quoted", rego_string(evidence)}});
  }

  if (!pins || pins->mrtd.empty()) {
    throw Error(ErrorKind::input,
                "no TDX reference values for image {}: its resource policy must pin the image's MRTD "
                "and RTMRs (set measurement.profile), and a policy without them would release the "
                "disk key to any affirmed TD",
                m.name);
  }
  if (pins->rtmr.empty()) {
    std::vector<std::string> why;
    for (const auto &[i, reason] : pins->not_pinned) {
      why.push_back(fmt::format("RTMR{}: {}", i, reason));
    }
    throw Error(ErrorKind::input,
                "image {}: no RTMR could be pinned in its resource policy ({}); MRTD alone names the "
                "firmware, not the image, so the disk key would be released to every image booted "
                "on it. Supply what the measurement profile lacks (measurement.profiles.<name>."
                "reference_ccel or platform)",
                m.name,
                why.empty() ? std::string("none was asked for") : fmt::format("{}", fmt::join(why, "; ")));
  }
  std::vector<std::string> mrtd;
  for (const auto &v : pins->mrtd) {
    if (!is_register_hex(v)) {
      throw Error(ErrorKind::internal, "resource policy: MRTD {} is not 96 lower-case hex digits", v);
    }
    mrtd.push_back(rego_string(v));
  }
  std::vector<std::string> checks;
  std::vector<std::string> notes;
  for (int i = 0; i < 4; ++i) {
    if (const auto it = pins->rtmr.find(i); it != pins->rtmr.end()) {
      if (!is_register_hex(it->second)) {
        throw Error(
            ErrorKind::internal, "resource policy: RTMR{} {} is not 96 lower-case hex digits", i, it->second);
      }
      checks.push_back(fmt::format("tdx.quote.body.rtmr_{} == {}", i, rego_string(it->second)));
      notes.push_back(fmt::format("#   RTMR{}: pinned", i));
    } else if (const auto nit = pins->not_pinned.find(i); nit != pins->not_pinned.end()) {
      // The reason is free text from the prediction: keep it on comment lines.
      std::string reason = nit->second;
      std::replace(reason.begin(), reason.end(), '\n', ' ');
      std::replace(reason.begin(), reason.end(), '\r', ' ');
      notes.push_back(fmt::format("#   RTMR{}: NOT PINNED: it has no reference value ({}); any value "
                                  "is accepted",
                                  i,
                                  reason));
    } else {
      notes.push_back(fmt::format("#   RTMR{}: not checked (not among the registers this build pins)", i));
    }
  }
  return tmpl::render_file(dir / "resource-policy.rego.in",
                           {{"image", m.name},
                            {"resource_path", resource_list},
                            {"resource_rules", resource_rules},
                            {"pin_notes", fmt::format("{}", fmt::join(notes, "\n"))},
                            {"mrtd_set", fmt::format("{{{}}}", fmt::join(mrtd, ", "))},
                            {"rtmr_checks", fmt::format("{}", fmt::join(checks, "\n\t"))}});
}

nlohmann::ordered_json
kbs_info(const manifest::Manifest &m, const Flavour &flavour) {
  const auto &a = m.attestation;
  nlohmann::ordered_json j;
  j["resource_path"] = a.resource_path;
  j["key_file"] = m.output.key_file.string();
  j["kbs_urls"] = a.kbs_urls;
  j["tee"] = manifest::to_string(a.tee);
  j["agent"] = flavour.name;
  j["insecure_test"] = flavour.insecure_test;
  j["resource_policy"] = resource_policy_path(m).string();
  j["set_resource_policy"] = fmt::format(
      "kbs-client --url {} {}config --auth-private-key <admin-key> set-resource-policy --policy-file {}",
      a.kbs_urls.empty() ? std::string("<kbs-url>") : a.kbs_urls.front(),
      a.ca_cert ? fmt::format("--cert-file {} ", a.ca_cert->string()) : std::string(),
      resource_policy_path(m).string());
  j["upload"] = fmt::format("kbs-client --url {} {}config --auth-private-key <admin-key> set-resource "
                            "--path {} --resource-file {}",
                            a.kbs_urls.empty() ? std::string("<kbs-url>") : a.kbs_urls.front(),
                            a.ca_cert ? fmt::format("--cert-file {} ", a.ca_cert->string()) : std::string(),
                            a.resource_path,
                            m.output.key_file.string());
  if (!m.volumes.empty()) {
    auto &volumes = j["volumes"] = nlohmann::ordered_json::array();
    for (const manifest::Volume &v : m.volumes) {
      volumes.push_back(
          {{"name", v.name},
           {"resource_path", v.resource_path},
           {"key_file", v.key_file.string()},
           {"required", v.required},
           {"upload",
            fmt::format("kbs-client --url {} {}config --auth-private-key <admin-key> set-resource "
                        "--path {} --resource-file {}",
                        a.kbs_urls.empty() ? std::string("<kbs-url>") : a.kbs_urls.front(),
                        a.ca_cert ? fmt::format("--cert-file {} ", a.ca_cert->string()) : std::string(),
                        v.resource_path,
                        v.key_file.string())}});
    }
  }
  return j;
}

std::vector<TemplateInstall>
templates_for(manifest::InitramfsGenerator initramfs_backend,
              const manifest::Manifest &m,
              const Flavour &flavour,
              std::string_view luks_uuid) {
  const std::map<std::string, std::string> script_vars = {
      {"agent", q(flavour.guest_binary())},
      {"config", q(k_config)},
      {"device", q(luks_device(luks_uuid))},
      {"mapper_name", q(m.luks.mapper_name)},
      {"header_copy", q(k_header_copy)},
  };
  const std::map<std::string, std::string> install_vars = {
      {"agent_dir", q(flavour.guest_dir())},
      {"agent_name", flavour.name},
      {"etc_dir", q(k_etc_dir)},
  };
  std::vector<TemplateInstall> out;
  if (initramfs_backend == manifest::InitramfsGenerator::dracut) {
    const std::string mod = "/usr/lib/dracut/modules.d/90cvmforge/";
    out.push_back({"dracut/module-setup.sh.in", mod + "module-setup.sh", 0755, install_vars});
    out.push_back({"dracut/cvmforge-unlock.sh.in", mod + "cvmforge-unlock.sh", 0755, script_vars});
    out.push_back({"dracut/cvmforge-unlock.service.in",
                   mod + "cvmforge-unlock.service",
                   0644,
                   {{"timeout_s", std::to_string(m.attestation.timeouts.total_s)}}});
    out.push_back(
        {"dracut/dracut-cvmforge-agent.conf.in", "/etc/dracut.conf.d/91-cvmforge-agent.conf", 0644, {}});
  } else {
    out.push_back({"initramfs-tools/hook.in", "/etc/initramfs-tools/hooks/cvmforge", 0755, install_vars});
    out.push_back({"initramfs-tools/local-top.in",
                   "/etc/initramfs-tools/scripts/local-top/cvmforge",
                   0755,
                   script_vars});
  }
  return out;
}

void
install(guestfs::Guest &g,
        const std::string &root,
        const std::filesystem::path &bundle_dir,
        const Flavour &flavour,
        const std::vector<TemplateInstall> &templates,
        const std::string &config_json,
        const std::string &policy_json,
        const std::optional<std::filesystem::path> &ca_cert,
        std::span<const VolumeAgent> volumes) {
  const auto at = [&root](std::string_view p) { return root + std::string(p); };
  const auto put = [&](std::string_view path, std::string_view text, int mode) {
    const auto parent = std::filesystem::path(at(path)).parent_path().string();
    if (!g.is_dir(parent)) {
      g.mkdir_p(parent);
    }
    g.write_text(at(path), text);
    g.chmod(mode, at(path));
  };

  // The bundle, verbatim: regular files keep their exec bit, symlinks stay links.
  const std::string guest_dir = flavour.guest_dir();
  if (g.exists(at(guest_dir))) {
    g.rm_rf(at(guest_dir));
  }
  g.mkdir_p(at(guest_dir));
  std::vector<std::filesystem::path> entries;
  for (const auto &e : std::filesystem::recursive_directory_iterator(bundle_dir)) {
    entries.push_back(e.path());
  }
  std::sort(entries.begin(), entries.end());
  for (const auto &p : entries) {
    const std::string rel = p.lexically_relative(bundle_dir).generic_string();
    const std::string dest = fmt::format("{}/{}", guest_dir, rel);
    const auto st = std::filesystem::symlink_status(p);
    if (std::filesystem::is_symlink(st)) {
      g.ln_s(std::filesystem::read_symlink(p).string(), at(dest));
    } else if (std::filesystem::is_directory(st)) {
      g.mkdir_p(at(dest));
      g.chmod(0755, at(dest));
    } else if (std::filesystem::is_regular_file(st)) {
      const auto bytes = fs::read_file(p);
      g.write(at(dest), bytes);
      const bool exec =
          (st.permissions() & std::filesystem::perms::owner_exec) != std::filesystem::perms::none;
      g.chmod(exec ? 0755 : 0644, at(dest));
    } else {
      throw Error(ErrorKind::input,
                  "agent bundle {}: {} is not a file, directory or symlink",
                  bundle_dir.string(),
                  rel);
    }
  }

  if (!g.is_dir(at(k_etc_dir))) {
    g.mkdir_p(at(k_etc_dir));
  }
  g.chmod(0755, at(k_etc_dir));
  put(k_config, config_json, 0644);
  put(k_header_policy, policy_json, 0644);
  for (const VolumeAgent &va : volumes) {
    put(volume_header_policy(va.volume->name), va.header_policy_json, 0644);
  }
  if (ca_cert) {
    put(k_ca_cert, fs::read_text(*ca_cert, std::size_t{1} << 20U), 0644);
  }
  if (flavour.insecure_test) {
    put(k_insecure_marker,
        "INSECURE-TEST: this image unlocks with the test agent (sample evidence, plain http allowed).\n"
        "Its disk key is released without any hardware attestation. Never use it for real workloads.\n",
        0644);
  } else if (g.exists(at(k_insecure_marker))) {
    g.rm(at(k_insecure_marker));
  }

  const auto tdir = tmpl::templates_dir() / "initramfs";
  for (const auto &t : templates) {
    put(t.destination, tmpl::render_file(tdir / t.source, t.variables), t.mode);
  }
}

} // namespace cvm::pipeline::agent
