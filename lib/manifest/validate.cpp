// SPDX-License-Identifier: Apache-2.0
#include "lib/manifest/validate.hpp"

#include "lib/manifest/values.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

namespace cvm::manifest::detail {

namespace {

bool
has(const Manifest &m, const std::string &key) {
  return m.locations.contains(key);
}

std::filesystem::path
sibling(const std::filesystem::path &output, const std::string &suffix) {
  return output.parent_path() / (output.filename().string() + suffix);
}

// Where a rule about volumes[i].<key> points: the key if it was written,
// else the item (a default derived from the volume's name).
std::string
volume_key(const Manifest &m, const std::string &item, const std::string &key) {
  const std::string full = fmt::format("{}.{}", item, key);
  return has(m, full) ? full : item;
}

// A mount point a volume may take: absolute and already normal.
bool
normal_absolute(const std::string &mount) {
  if (mount.size() < 2 || mount.front() != '/' || mount.back() == '/') {
    return false;
  }
  std::size_t start = 1;
  while (start <= mount.size()) {
    const std::size_t end = std::min(mount.find('/', start), mount.size());
    const std::string_view part(mount.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

void
validate_volumes(Reader &r, const Manifest &m) {
  if (m.volumes.empty()) {
    return;
  }
  if (!m.attestation.enabled && !r.failed("attestation")) {
    r.error_at("volumes",
               "volumes: data volumes need attestation",
               "their keys are released by the KBS in the attested session that unlocks the root; enable "
               "attestation");
  }
  // Paths a volume's output or key file must not take: the image's outputs
  // (claimed) and every input.
  std::map<std::filesystem::path, std::string> claimed;
  for (const auto &[key, path] : {std::pair<std::string, std::filesystem::path>{"output.path", m.output.path},
                                  {"output.key_file", m.output.key_file},
                                  {"output.report", m.output.report},
                                  {"output.reference_values", m.output.reference_values}}) {
    if (!path.empty()) {
      claimed.emplace(path, key);
    }
  }
  std::map<std::filesystem::path, std::string> inputs;
  if (!m.base.path.empty()) {
    inputs.emplace(m.base.path, "base.path");
  }
  if (m.key.file) {
    inputs.emplace(*m.key.file, "key.file");
  }
  for (std::size_t i = 0; i < m.volumes.size(); ++i) {
    if (m.volumes[i].source) {
      inputs.emplace(*m.volumes[i].source, fmt::format("volumes[{}].source", i));
    }
  }
  std::map<std::string, std::string> names;     // name -> volumes[i]
  std::map<std::string, std::string> mounts;    // mount -> volumes[i]
  std::map<std::string, std::string> resources; // resource path -> owner key
  if (m.attestation.enabled && !m.attestation.resource_path.empty()) {
    resources.emplace(m.attestation.resource_path, "attestation.resource_path");
  }
  static const std::vector<std::string> k_reserved{"/boot", "/efi", "/proc", "/sys", "/dev", "/run", "/tmp"};
  for (std::size_t i = 0; i < m.volumes.size(); ++i) {
    const Volume &v = m.volumes[i];
    const std::string ip = fmt::format("volumes[{}]", i);
    // An item that is not a mapping has only defaults: every rule below skips it.

    // Name: unique, and its derived device names not the root's.
    if (!v.name.empty() && !r.failed(ip + ".name")) {
      const std::string key = ip + ".name";
      if (const auto [it, fresh] = names.emplace(v.name, ip); !fresh) {
        r.error_at(key,
                   fmt::format("{}: '{}' is already the name of {}", key, v.name, it->second),
                   "volume names are unique: file, mapper, label and KBS resource names derive from them");
      } else if (v.label == m.luks.label || v.mapper_name == m.luks.mapper_name) {
        r.error_at(key,
                   fmt::format("{}: '{}' gives the LUKS2 label '{}' and mapper name '{}', which the root "
                               "volume uses",
                               key,
                               v.name,
                               v.label,
                               v.mapper_name),
                   "rename the volume, or change luks.label / luks.mapper_name");
      }
    }

    // Mount point.
    if (!v.mount.empty() && !r.failed(ip + ".mount")) {
      const std::string key = ip + ".mount";
      const auto reserved = std::find_if(k_reserved.begin(), k_reserved.end(), [&](const std::string &d) {
        return v.mount == d || v.mount.starts_with(d + "/");
      });
      if (v.mount == "/") {
        r.error_at(
            key,
            fmt::format("{}: a volume cannot be mounted on /", key),
            "the root filesystem is the image itself; mount the volume on a directory such as /srv/data");
      } else if (!normal_absolute(v.mount)) {
        r.error_at(key,
                   fmt::format("{}: '{}' must be an absolute, normalised path", key, v.mount),
                   "start with '/'; no '.', '..', '//' or trailing '/', e.g. /srv/data");
      } else if (reserved != k_reserved.end()) {
        r.error_at(
            key,
            fmt::format(
                "{}: '{}' is in {}, which is not the encrypted root's to hand out", key, v.mount, *reserved),
            "not allowed: /boot, /efi, /proc, /sys, /dev, /run, /tmp and anything below them");
      } else if (const auto [it, fresh] = mounts.emplace(v.mount, ip); !fresh) {
        r.error_at(key,
                   fmt::format("{}: '{}' is already the mount point of {}", key, v.mount, it->second),
                   "one volume per mount point");
      }
    }

    // Filesystem.
    if (v.filesystem == Filesystem::xfs && v.size_bytes != 0 && !r.failed(ip + ".size") &&
        v.size_bytes < (300ULL << 20U)) {
      r.error_at(ip + ".size",
                 fmt::format("{}.size: {} is too small for xfs", ip, values::format_size(v.size_bytes)),
                 "mkfs.xfs needs at least 300M; use a larger size or filesystem: ext4");
    }
    if (v.source && v.kind != VolumeKind::built) {
      r.error_at(ip + ".source", fmt::format("{}.source: only used with kind: built", ip));
    }

    // The rest derives from the name by default.
    if (v.name.empty() || r.failed(ip + ".name")) {
      continue;
    }
    // True (after reporting it) if `path` is an input or already written.
    const auto taken = [&](const std::string &k, const std::filesystem::path &path) {
      const std::string key = fmt::format("{}.{}", ip, k);
      if (const auto in = inputs.find(path); in != inputs.end()) {
        r.error_at(volume_key(m, ip, k),
                   fmt::format("{}: {} is also an input ({}); cvmforge never writes over its inputs",
                               key,
                               path.string(),
                               in->second));
        return true;
      }
      if (const auto [it, fresh] = claimed.emplace(path, key); !fresh) {
        r.error_at(volume_key(m, ip, k),
                   fmt::format("{}: {} is also {}", key, path.string(), it->second),
                   "every file a build writes needs its own path");
        return true;
      }
      return false;
    };
    const bool output_taken = !v.output.empty() && !r.failed(ip + ".output") && taken("output", v.output);
    // A default key file next to a taken output is the same mistake.
    if (!v.key_file.empty() && !r.failed(ip + ".key_file") && (!output_taken || has(m, ip + ".key_file"))) {
      taken("key_file", v.key_file);
    }
    if (!v.resource_path.empty() && !r.failed(ip + ".resource_path")) {
      const std::string key = ip + ".resource_path";
      if (const auto [it, fresh] = resources.emplace(v.resource_path, key); !fresh) {
        r.error_at(volume_key(m, ip, "resource_path"),
                   fmt::format("{}: '{}' is also {}", key, v.resource_path, it->second),
                   "each volume's key is its own KBS resource");
      }
    }
  }
}

} // namespace

void
apply_defaults(Manifest &m) {
  if (m.name.empty() && !m.output.path.empty()) {
    m.name = m.output.path.stem().string();
  }
  if (!m.output.path.empty()) {
    if (m.output.key_file.empty()) {
      m.output.key_file = sibling(m.output.path, ".key");
    }
    if (m.output.report.empty()) {
      m.output.report = sibling(m.output.path, ".report.json");
    }
    if (m.output.reference_values.empty()) {
      m.output.reference_values = sibling(m.output.path, ".reference.json");
    }
  }
  if (m.attestation.enabled && m.attestation.resource_path.empty()) {
    m.attestation.resource_path = "default/cvmforge/" + (m.name.empty() ? std::string("disk-key") : m.name);
  }
  for (auto &v : m.volumes) {
    if (v.name.empty()) {
      continue; // not readable: reported already
    }
    if (v.output.empty() && !m.output.path.empty()) {
      v.output = m.output.path.parent_path() / (m.output.path.stem().string() + "." + v.name + ".qcow2");
    }
    if (v.key_file.empty() && !v.output.empty()) {
      v.key_file = sibling(v.output, ".key");
    }
    if (v.resource_path.empty() && m.attestation.enabled && !m.attestation.resource_path.empty()) {
      v.resource_path = m.attestation.resource_path + "-" + v.name;
    }
    v.mapper_name = "cvmvol-" + v.name;
    v.label = "cvmforge-" + v.name;
  }
}

void
validate(Reader &r, const Manifest &m) {
  // Inputs are never modified and outputs never overwrite inputs.
  if (!m.base.path.empty() && !m.output.path.empty()) {
    std::set<std::filesystem::path> inputs{m.base.path};
    if (m.key.file) {
      inputs.insert(*m.key.file);
    }
    for (const auto &v : m.volumes) {
      if (v.source) {
        inputs.insert(*v.source);
      }
    }
    for (const auto &[key, path] :
         {std::pair<std::string, std::filesystem::path>{"output.path", m.output.path},
          {"output.key_file", m.output.key_file},
          {"output.report", m.output.report},
          {"output.reference_values", m.output.reference_values}}) {
      if (inputs.contains(path)) {
        r.error_at(has(m, key) ? key : "output.path",
                   fmt::format(
                       "{}: {} is also an input; cvmforge never writes over its inputs", key, path.string()));
      }
    }
    if (m.output.key_file == m.output.path || m.output.report == m.output.path ||
        m.output.reference_values == m.output.path) {
      r.error_at("output.path",
                 "output.path: the image, key file, report and reference values need distinct paths");
    }
  }

  // Sizing.
  if (m.output.size_policy == SizePolicy::fixed && m.output.size_bytes == 0 && has(m, "output.size.policy")) {
    r.error_at("output.size.policy", "output.size: policy 'fixed' needs a size", "add size: 8G");
  }
  if (m.output.size_policy == SizePolicy::fit && has(m, "output.size.size")) {
    r.error_at("output.size.size",
               "output.size.size: only used with policy: fixed",
               "set policy: fixed, or remove size");
  }
  if (m.output.size_policy == SizePolicy::fixed &&
      (has(m, "output.size.headroom") || has(m, "output.size.headroom_min"))) {
    r.error_at(has(m, "output.size.headroom") ? "output.size.headroom" : "output.size.headroom_min",
               "output.size: headroom is only used with policy: fit");
  }
  if (m.output.size_policy == SizePolicy::fixed && m.output.size_bytes != 0 &&
      m.output.size_bytes <= m.partitions.esp.size_bytes + m.partitions.boot.size_bytes + (256ULL << 20U)) {
    r.error_at("output.size.size",
               "output.size.size: too small for the ESP, /boot and a root partition",
               "the root partition needs at least 256M beyond ESP + /boot");
  }

  // LUKS.
  const bool xts = m.luks.cipher.find("-xts-") != std::string::npos;
  if (xts && m.luks.key_size_bits != 256 && m.luks.key_size_bits != 512) {
    r.error_at(
        "luks.key_size",
        fmt::format("luks.key_size: {} bits does not work with {}", m.luks.key_size_bits, m.luks.cipher),
        "XTS takes two keys: 256 (2 x 128) or 512 (2 x 256)");
  }
  if (!xts && m.luks.key_size_bits != 128 && m.luks.key_size_bits != 192 && m.luks.key_size_bits != 256) {
    r.error_at(
        "luks.key_size",
        fmt::format("luks.key_size: {} bits does not work with {}", m.luks.key_size_bits, m.luks.cipher),
        "one of: 128, 192, 256");
  }
  if (m.luks.pbkdf.type == PbkdfType::pbkdf2 &&
      (has(m, "luks.pbkdf.memory_kib") || has(m, "luks.pbkdf.parallel"))) {
    r.error_at(has(m, "luks.pbkdf.memory_kib") ? "luks.pbkdf.memory_kib" : "luks.pbkdf.parallel",
               "luks.pbkdf: memory_kib and parallel apply to argon2 only");
  }
  if (m.luks.pbkdf.type != PbkdfType::pbkdf2 && has(m, "luks.pbkdf.hash")) {
    r.error_at("luks.pbkdf.hash", "luks.pbkdf.hash: applies to pbkdf2 only");
  }
  if (m.luks.recovery.pbkdf.type == PbkdfType::pbkdf2 && m.luks.recovery.pbkdf.iterations < 100000 &&
      has(m, "luks.recovery.pbkdf.type")) {
    r.error_at("luks.recovery.pbkdf.iterations",
               fmt::format("luks.recovery.pbkdf: {} PBKDF2 iterations are too few for a human passphrase",
                           m.luks.recovery.pbkdf.iterations),
               "use argon2id (the default) or at least 100000 iterations");
  }
  if (!m.luks.recovery.enabled &&
      (has(m, "luks.recovery.passphrase_file") || has(m, "luks.recovery.pbkdf"))) {
    r.error_at(has(m, "luks.recovery.passphrase_file") ? "luks.recovery.passphrase_file"
                                                       : "luks.recovery.pbkdf",
               "luks.recovery: settings given but the recovery keyslot is not enabled",
               "add enabled: true");
  }

  // Key.
  if (m.key.source == KeySource::file && !m.key.file && !has(m, "key.file")) {
    r.error_at("key.source", "key: source 'file' needs key.file", "name the file holding the key bytes");
  }
  if (m.key.source == KeySource::generate && has(m, "key.file")) {
    r.error_at("key.file", "key.file: only used with source: file", "set source: file, or remove file");
  }

  // Someone must be able to open the image.
  if (!m.attestation.enabled && !m.luks.recovery.enabled && !r.failed("luks") && !r.failed("attestation")) {
    r.error_at(has(m, "attestation.enabled") ? "attestation.enabled" : "output.path",
               "the image could never be unlocked: attestation is off and there is no recovery keyslot",
               "enable attestation or luks.recovery");
  }

  // Attestation.
  if (m.attestation.enabled) {
    if (m.attestation.kbs_urls.empty()) {
      r.error_at(has(m, "attestation.kbs_urls") ? "attestation.kbs_urls" : "attestation",
                 "attestation: at least one KBS URL is needed in kbs_urls");
    }
    bool any_https = false;
    for (std::size_t i = 0; i < m.attestation.kbs_urls.size(); ++i) {
      const std::string &url = m.attestation.kbs_urls[i];
      const std::string key = fmt::format("attestation.kbs_urls[{}]", i);
      const auto scheme_end = url.find("://");
      const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
      const std::string rest = scheme_end == std::string::npos ? "" : url.substr(scheme_end + 3);
      if ((scheme != "https" && scheme != "http") || rest.empty() || rest.front() == '/' ||
          rest.find_first_of(" \t\"'`$;") != std::string::npos) {
        r.error_at(key,
                   fmt::format("{}: '{}' is not an http(s) URL", key, url),
                   "write e.g. https://kbs.example.com:8080");
        continue;
      }
      if (scheme == "https") {
        any_https = true;
      } else if (m.attestation.tee != Tee::sample) {
        r.error_at(key,
                   fmt::format("{}: plain http is only allowed for the test flavour (tee: sample)", key),
                   "use https with attestation.ca_cert");
      }
    }
    if (any_https && !m.attestation.ca_cert && !has(m, "attestation.ca_cert")) {
      r.error_at("attestation.kbs_urls",
                 "attestation: https KBS URLs need ca_cert",
                 "the CA certificate (PEM) that signed the KBS's TLS certificate");
    }
    const auto &rt = m.attestation.retries;
    if (rt.backoff_initial_ms > rt.backoff_max_ms) {
      r.error_at("attestation.retries.backoff_initial_ms",
                 "attestation.retries: backoff_initial_ms is larger than backoff_max_ms");
    }
    const auto &to = m.attestation.timeouts;
    if (to.request_s > to.total_s || to.connect_s > to.total_s) {
      r.error_at(has(m, "attestation.timeouts.total_s") ? "attestation.timeouts.total_s"
                                                        : "attestation.timeouts",
                 "attestation.timeouts: total_s must be at least connect_s and request_s");
    }
  } else if (has(m, "attestation.kbs_urls") || has(m, "attestation.ca_cert")) {
    r.error_at(has(m, "attestation.enabled") ? "attestation.enabled" : "attestation",
               "attestation: settings given but attestation is disabled");
  }

  // Boot.
  for (std::size_t i = 0; i < m.boot.cmdline_add.size(); ++i) {
    const std::string &arg = m.boot.cmdline_add[i];
    const std::string key = fmt::format("boot.cmdline_add[{}]", i);
    if (arg.empty() || arg.find_first_of("\n\r\t ") != std::string::npos) {
      r.error_at(key, fmt::format("{}: each entry is one kernel parameter without spaces", key));
      continue;
    }
    for (const char *owned : {"root=",
                              "rd.luks",
                              "cryptdevice=",
                              "cryptopts=",
                              "rd.shell",
                              "rd.emergency",
                              "panic=",
                              "init=",
                              "rdinit=",
                              "break="}) {
      if (arg.starts_with(owned)) {
        r.error_at(
            key,
            fmt::format("{}: '{}' is set by cvmforge (root unlock and fail-closed boot)", key, arg),
            "remove it; cvmforge owns root=, rd.luks*, panic=, rd.shell, rd.emergency, init= and break=");
        break;
      }
    }
  }

  // Files.
  std::set<std::string> dests;
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    const auto &f = m.files[i];
    const std::string key = fmt::format("files[{}].dest", i);
    const std::filesystem::path dest(f.dest);
    bool dotdot = false;
    for (const auto &part : dest) {
      dotdot = dotdot || part == "..";
    }
    if (!dest.is_absolute() || dotdot || f.dest.back() == '/') {
      r.error_at(key, fmt::format("{}: '{}' must be an absolute file path without '..'", key, f.dest));
    } else if (f.dest.starts_with("/boot") || f.dest.starts_with("/proc") || f.dest.starts_with("/sys") ||
               f.dest.starts_with("/dev")) {
      r.error_at(key,
                 fmt::format("{}: '{}' is outside the encrypted root filesystem", key, f.dest),
                 "files go into the root filesystem; /boot, /proc, /sys and /dev are not allowed");
    } else if (!dests.insert(f.dest).second) {
      r.error_at(key, fmt::format("{}: '{}' is written twice", key, f.dest));
    }
  }

  validate_volumes(r, m);

  // Measurement.
  if (const auto it = m.measurement.profiles.find(m.measurement.profile);
      it != m.measurement.profiles.end()) {
    const std::string key = "measurement.profiles." + it->first;
    if (!it->second.firmware && !r.failed(key)) {
      r.error_at(key,
                 fmt::format("{}: the build's profile needs firmware (the TDVF/OVMF file the TD boots)", key),
                 "e.g. firmware: /usr/share/ovmf/OVMF.fd");
    }
    if (it->second.ovmf_version.empty() && !r.failed(key)) {
      r.error_at(
          key,
          fmt::format("{}: the build's profile needs ovmf_version (the event layout depends on it)", key),
          "e.g. ovmf_version: edk2-stable202211");
    }
  }
  if (!m.measurement.profile.empty() && !m.measurement.profiles.contains(m.measurement.profile)) {
    std::string hint = "define it under measurement.profiles";
    if (!m.measurement.profiles.empty()) {
      std::vector<std::string> names;
      for (const auto &[name, p] : m.measurement.profiles) {
        names.push_back(name);
      }
      if (auto guess = values::closest(m.measurement.profile, names)) {
        hint = fmt::format("did you mean '{}'?", *guess);
      }
    }
    r.error_at("measurement.profile",
               fmt::format("measurement.profile: no profile named '{}'", m.measurement.profile),
               hint);
  }
}

} // namespace cvm::manifest::detail
