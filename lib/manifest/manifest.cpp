// SPDX-License-Identifier: Apache-2.0
// Schema v1 walk: YAML tree -> Manifest, recording type, range and unknown-key
// problems. Cross-field rules (contradictions) live in validate.cpp.
#include "lib/manifest/manifest.hpp"

#include "lib/manifest/reader.hpp"
#include "lib/manifest/validate.hpp"
#include "lib/manifest/values.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <fmt/format.h>

#include <regex>

namespace cvm::manifest {

using detail::Reader;

namespace {

constexpr std::uint64_t k_mib = 1ULL << 20U;
constexpr std::uint64_t k_gib = 1ULL << 30U;
constexpr std::uint64_t k_tib = 1ULL << 40U;

template<typename F>
void
with(Reader &r, const YAML::Node &map, const std::string &path, const std::string &key, F &&f) {
  if (auto node = r.child(map, path, key)) {
    f(*node, path.empty() ? key : path + "." + key);
  }
}

// f(item, "<path>[i]") for each item of the sequence `node` at `path`, each
// item's location remembered; a node that is not a sequence is reported.
template<typename F>
void
for_each_item(Reader &r, const YAML::Node &node, const std::string &path, F &&f) {
  const auto items = r.sequence(node, path);
  if (!items) {
    return;
  }
  for (std::size_t i = 0; i < items->size(); ++i) {
    const std::string ip = fmt::format("{}[{}]", path, i);
    r.remember(ip, (*items)[i]);
    f((*items)[i], ip);
  }
}

PbkdfType
pbkdf_type_of(const std::string &s) {
  if (s == "argon2i") {
    return PbkdfType::argon2i;
  }
  if (s == "argon2id") {
    return PbkdfType::argon2id;
  }
  return PbkdfType::pbkdf2;
}

void
read_pbkdf(Reader &r, const YAML::Node &node, const std::string &path, Pbkdf &out) {
  if (!r.expect_map(node, path, {"type", "hash", "iterations", "memory_kib", "parallel"})) {
    return;
  }
  with(r, node, path, "type", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.choice(n, p, {"pbkdf2", "argon2i", "argon2id"})) {
      out.type = pbkdf_type_of(*v);
      if (out.type != PbkdfType::pbkdf2 && out.memory_kib == 0) {
        out.memory_kib = 256U * 1024U;
        out.parallel = 2;
        out.iterations = 6;
      }
    }
  });
  with(r, node, path, "hash", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.choice(n, p, {"sha256", "sha512"})) {
      out.hash = *v;
    }
  });
  with(r, node, path, "iterations", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.uint(n, p, 1, 100'000'000)) {
      out.iterations = static_cast<std::uint32_t>(*v);
    }
  });
  with(r, node, path, "memory_kib", [&](const YAML::Node &n, const std::string &p) {
    // libcryptsetup's argon2 bounds: 32 KiB to 4 GiB.
    if (auto v = r.uint(n, p, 32, std::uint64_t{4} * 1024U * 1024U)) {
      out.memory_kib = static_cast<std::uint32_t>(*v);
    }
  });
  with(r, node, path, "parallel", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.uint(n, p, 1, 32)) {
      out.parallel = static_cast<std::uint32_t>(*v);
    }
  });
}

void
read_base(Reader &r, const YAML::Node &root, Manifest &m) {
  auto node = r.child(root, "", "base");
  if (!node) {
    r.missing(root, "", "base", "name the stock image to convert: base: {path: debian-12.qcow2}");
    return;
  }
  if (!r.expect_map(*node, "base", {"path", "format"})) {
    return;
  }
  with(r, *node, "base", "format", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.choice(n, p, {"qcow2", "raw"})) {
      m.base.format = *v == "raw" ? ImageFormat::raw : ImageFormat::qcow2;
    }
  });
  if (auto p = r.child(*node, "base", "path")) {
    if (auto v = r.path(*p, "base.path", true)) {
      m.base.path = *v;
    }
  } else {
    r.missing(*node, "base", "path");
  }
}

void
read_output(Reader &r, const YAML::Node &root, Manifest &m) {
  auto node = r.child(root, "", "output");
  if (!node) {
    r.missing(root, "", "output", "say where to write the image: output: {path: out/cvm.qcow2}");
    return;
  }
  if (!r.expect_map(*node, "output", {"path", "format", "size", "key_file", "report", "reference_values"})) {
    return;
  }
  if (auto p = r.child(*node, "output", "path")) {
    if (auto v = r.path(*p, "output.path", false)) {
      m.output.path = *v;
    }
  } else {
    r.missing(*node, "output", "path");
  }
  with(r, *node, "output", "format", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.choice(n, p, {"qcow2", "raw"})) {
      m.output.format = *v == "raw" ? ImageFormat::raw : ImageFormat::qcow2;
    }
  });
  for (const auto *key : {"key_file", "report", "reference_values"}) {
    with(r, *node, "output", key, [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.path(n, p, false)) {
        std::string_view k = key;
        (k == "key_file" ? m.output.key_file
         : k == "report" ? m.output.report
                         : m.output.reference_values) = *v;
      }
    });
  }
  with(r, *node, "output", "size", [&](const YAML::Node &size, const std::string &sp) {
    if (!r.expect_map(size, sp, {"policy", "size", "headroom", "headroom_min"})) {
      return;
    }
    with(r, size, sp, "policy", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.choice(n, p, {"fit", "fixed"})) {
        m.output.size_policy = *v == "fixed" ? SizePolicy::fixed : SizePolicy::fit;
      }
    });
    with(r, size, sp, "size", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.size(n, p, 1 * k_gib, 64 * k_tib)) {
        m.output.size_bytes = *v;
      }
    });
    with(r, size, sp, "headroom", [&](const YAML::Node &n, const std::string &p) {
      if (!n.IsScalar()) {
        r.error_at(p, fmt::format("{}: expected a percentage such as 20%", p));
        return;
      }
      const auto v = values::parse_percent(n.Scalar());
      if (!v) {
        r.error_at(p, fmt::format("{}: '{}' is not a percentage", p, n.Scalar()), "write e.g. 20%");
      } else if (*v > 400) {
        r.error_at(p, fmt::format("{}: {}% is out of range", p, *v), "allowed: 0% to 400%");
      } else {
        m.output.headroom_percent = *v;
      }
    });
    with(r, size, sp, "headroom_min", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.size(n, p, 0, 1 * k_tib)) {
        m.output.headroom_min_bytes = *v;
      }
    });
  });
}

void
read_partition(Reader &r, const YAML::Node &node, const std::string &path, Partition &out, bool sized) {
  std::vector<std::string> keys{"label", "filesystem"};
  if (sized) {
    keys.emplace_back("size");
  }
  if (!r.expect_map(node, path, keys)) {
    return;
  }
  with(r, node, path, "size", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.size(n, p, 32 * k_mib, 16 * k_gib)) {
      out.size_bytes = *v;
    }
  });
  with(r, node, path, "label", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.string(n, p)) {
      // GPT names are 36 UTF-16 units; keep labels plain and short.
      static const std::regex k_label("[A-Za-z0-9._-]{1,36}");
      if (!std::regex_match(*v, k_label)) {
        r.error_at(p,
                   fmt::format("{}: '{}' is not a valid partition label", p, *v),
                   "1-36 characters of A-Z a-z 0-9 . _ -");
      } else {
        out.label = *v;
      }
    }
  });
  with(r, node, path, "filesystem", [&](const YAML::Node &n, const std::string &p) {
    if (r.choice(n, p, {"ext4"})) {
      out.filesystem = Filesystem::ext4;
    }
  });
}

void
read_partitions(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "partitions", [&](const YAML::Node &node, const std::string &path) {
    if (!r.expect_map(node, path, {"esp", "boot", "root"})) {
      return;
    }
    with(r, node, path, "esp", [&](const YAML::Node &n, const std::string &p) {
      read_partition(r, n, p, m.partitions.esp, true);
    });
    with(r, node, path, "boot", [&](const YAML::Node &n, const std::string &p) {
      read_partition(r, n, p, m.partitions.boot, true);
    });
    with(r, node, path, "root", [&](const YAML::Node &n, const std::string &p) {
      read_partition(r, n, p, m.partitions.root, false);
    });
  });
}

void
read_luks(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "luks", [&](const YAML::Node &node, const std::string &path) {
    if (!r.expect_map(node,
                      path,
                      {"cipher",
                       "key_size",
                       "sector_size",
                       "pbkdf",
                       "label",
                       "mapper_name",
                       "integrity",
                       "recovery"})) {
      return;
    }
    with(r, node, path, "cipher", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.string(n, p)) {
        if (v->starts_with("cipher_null")) {
          r.error_at(p, fmt::format("{}: '{}' does not encrypt anything", p, *v), "use aes-xts-plain64");
          return;
        }
        if (auto c = r.choice(
                n,
                p,
                {"aes-xts-plain64", "serpent-xts-plain64", "twofish-xts-plain64", "aes-cbc-essiv:sha256"})) {
          m.luks.cipher = *c;
        }
      }
    });
    with(r, node, path, "key_size", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.uint(n, p, 128, 512)) {
        m.luks.key_size_bits = static_cast<std::uint32_t>(*v);
      }
    });
    with(r, node, path, "sector_size", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.uint(n, p, 512, 4096)) {
        if ((*v & (*v - 1)) != 0) {
          r.error_at(p, fmt::format("{}: {} is not a power of two", p, *v), "one of: 512, 1024, 2048, 4096");
        } else {
          m.luks.sector_size = static_cast<std::uint32_t>(*v);
        }
      }
    });
    with(r, node, path, "pbkdf", [&](const YAML::Node &n, const std::string &p) {
      read_pbkdf(r, n, p, m.luks.pbkdf);
    });
    with(r, node, path, "label", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.string(n, p)) {
        if (v->empty() || v->size() > 47) {
          r.error_at(p, fmt::format("{}: a LUKS2 label has 1 to 47 characters", p));
        } else {
          m.luks.label = *v;
        }
      }
    });
    with(r, node, path, "mapper_name", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.string(n, p)) {
        static const std::regex k_name("[A-Za-z0-9_-]{1,64}");
        if (!std::regex_match(*v, k_name)) {
          r.error_at(p,
                     fmt::format("{}: '{}' is not a valid device-mapper name", p, *v),
                     "1-64 characters of A-Z a-z 0-9 _ -");
        } else {
          m.luks.mapper_name = *v;
        }
      }
    });
    with(r, node, path, "integrity", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.choice(n, p, {"none", "hmac-sha256", "hmac-sha512"})) {
        if (*v != "none") {
          // LUKS2 with dm-integrity must be formatted through device-mapper
          // and every sector written (libcryptsetup: "Cannot format
          // integrity" offline); cvmforge formats headers offline.
          r.error_at(
              p,
              fmt::format("{}: '{}' is not supported yet: authenticated encryption needs the whole partition "
                          "written through dm-integrity, which an offline build cannot do",
                          p,
                          *v),
              "use integrity: none; the image's integrity is covered by attestation of the boot chain");
        }
        m.luks.integrity = std::nullopt;
      }
    });
    with(r, node, path, "recovery", [&](const YAML::Node &rec, const std::string &rp) {
      if (!r.expect_map(rec, rp, {"enabled", "passphrase_file", "pbkdf"})) {
        return;
      }
      with(r, rec, rp, "enabled", [&](const YAML::Node &n, const std::string &p) {
        if (auto v = r.boolean(n, p)) {
          m.luks.recovery.enabled = *v;
        }
      });
      with(r, rec, rp, "passphrase_file", [&](const YAML::Node &n, const std::string &p) {
        if (auto v = r.path(n, p, true)) {
          m.luks.recovery.passphrase_file = *v;
        }
      });
      with(r, rec, rp, "pbkdf", [&](const YAML::Node &n, const std::string &p) {
        read_pbkdf(r, n, p, m.luks.recovery.pbkdf);
      });
    });
  });
}

void
read_key(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "key", [&](const YAML::Node &node, const std::string &path) {
    if (!r.expect_map(node, path, {"source", "file", "bytes"})) {
      return;
    }
    with(r, node, path, "source", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.choice(n, p, {"generate", "file"})) {
        m.key.source = *v == "file" ? KeySource::file : KeySource::generate;
      }
    });
    with(r, node, path, "file", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.path(n, p, true)) {
        m.key.file = *v;
      }
    });
    with(r, node, path, "bytes", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.uint(n, p, 32, 512)) {
        m.key.bytes = static_cast<std::uint32_t>(*v);
      }
    });
  });
}

void
read_initramfs(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "initramfs", [&](const YAML::Node &node, const std::string &path) {
    if (!r.expect_map(node, path, {"backend"})) {
      return;
    }
    with(r, node, path, "backend", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.choice(n, p, {"auto", "initramfs-tools", "dracut"})) {
        if (*v == "dracut") {
          m.initramfs = InitramfsGenerator::dracut;
        } else if (*v == "initramfs-tools") {
          m.initramfs = InitramfsGenerator::initramfs_tools;
        } else {
          m.initramfs = std::nullopt; // "auto"
        }
      }
    });
  });
}

// A KBS resource path (attestation.resource_path, volumes[].resource_path).
std::optional<std::string>
read_resource_path(Reader &r, const YAML::Node &n, const std::string &p) {
  auto v = r.string(n, p);
  if (!v) {
    return std::nullopt;
  }
  static const std::regex k_resource("[A-Za-z0-9._-]+/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+");
  if (!std::regex_match(*v, k_resource)) {
    r.error_at(p,
               fmt::format("{}: '{}' is not a KBS resource path", p, *v),
               "write repository/type/tag, e.g. default/cvmforge/disk-key");
    return std::nullopt;
  }
  return v;
}

void
read_attestation(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "attestation", [&](const YAML::Node &node, const std::string &path) {
    if (!r.expect_map(node,
                      path,
                      {"enabled",
                       "kbs_urls",
                       "ca_cert",
                       "resource_path",
                       "tee",
                       "insecure_allow_unbound",
                       "timeouts",
                       "retries"})) {
      return;
    }
    m.attestation.enabled = true; // a present section means "use it" unless enabled: false
    with(r, node, path, "enabled", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.boolean(n, p)) {
        m.attestation.enabled = *v;
      }
    });
    with(r, node, path, "kbs_urls", [&](const YAML::Node &n, const std::string &p) {
      for_each_item(r, n, p, [&](const YAML::Node &item, const std::string &ip) {
        if (auto url = r.expanded(item, ip)) {
          m.attestation.kbs_urls.push_back(*url);
        }
      });
    });
    with(r, node, path, "ca_cert", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.path(n, p, true)) {
        m.attestation.ca_cert = *v;
      }
    });
    with(r, node, path, "resource_path", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = read_resource_path(r, n, p)) {
        m.attestation.resource_path = *v;
      }
    });
    with(r, node, path, "tee", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.choice(n, p, {"tdx", "sample"})) {
        m.attestation.tee = *v == "sample" ? Tee::sample : Tee::tdx;
      }
    });
    with(r, node, path, "insecure_allow_unbound", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.boolean(n, p)) {
        m.attestation.insecure_allow_unbound = *v;
      }
    });
    with(r, node, path, "timeouts", [&](const YAML::Node &t, const std::string &tp) {
      if (!r.expect_map(t, tp, {"connect_s", "request_s", "total_s"})) {
        return;
      }
      with(r, t, tp, "connect_s", [&](const YAML::Node &n, const std::string &p) {
        if (auto v = r.uint(n, p, 1, 300)) {
          m.attestation.timeouts.connect_s = static_cast<std::uint32_t>(*v);
        }
      });
      with(r, t, tp, "request_s", [&](const YAML::Node &n, const std::string &p) {
        if (auto v = r.uint(n, p, 1, 600)) {
          m.attestation.timeouts.request_s = static_cast<std::uint32_t>(*v);
        }
      });
      with(r, t, tp, "total_s", [&](const YAML::Node &n, const std::string &p) {
        if (auto v = r.uint(n, p, 5, 3600)) {
          m.attestation.timeouts.total_s = static_cast<std::uint32_t>(*v);
        }
      });
    });
    with(r, node, path, "retries", [&](const YAML::Node &t, const std::string &tp) {
      if (!r.expect_map(t, tp, {"attempts", "backoff_initial_ms", "backoff_max_ms"})) {
        return;
      }
      with(r, t, tp, "attempts", [&](const YAML::Node &n, const std::string &p) {
        if (auto v = r.uint(n, p, 1, 100)) {
          m.attestation.retries.attempts = static_cast<std::uint32_t>(*v);
        }
      });
      with(r, t, tp, "backoff_initial_ms", [&](const YAML::Node &n, const std::string &p) {
        if (auto v = r.uint(n, p, 10, 600'000)) {
          m.attestation.retries.backoff_initial_ms = static_cast<std::uint32_t>(*v);
        }
      });
      with(r, t, tp, "backoff_max_ms", [&](const YAML::Node &n, const std::string &p) {
        if (auto v = r.uint(n, p, 10, 600'000)) {
          m.attestation.retries.backoff_max_ms = static_cast<std::uint32_t>(*v);
        }
      });
    });
  });
}

} // namespace
} // namespace cvm::manifest

namespace cvm::manifest {
namespace {

void
read_boot(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "boot", [&](const YAML::Node &node, const std::string &path) {
    if (!r.expect_map(node, path, {"mode", "cmdline_add"})) {
      return;
    }
    with(r, node, path, "mode", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.choice(n, p, {"grub", "direct", "uki"})) {
        m.boot.mode = *v == "direct" ? BootMode::direct : *v == "uki" ? BootMode::uki : BootMode::grub;
      }
    });
    with(r, node, path, "cmdline_add", [&](const YAML::Node &n, const std::string &p) {
      for_each_item(r, n, p, [&](const YAML::Node &item, const std::string &ip) {
        if (auto v = r.string(item, ip)) {
          m.boot.cmdline_add.push_back(*v);
        }
      });
    });
  });
}

void
read_files(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "files", [&](const YAML::Node &n, const std::string &p) {
    for_each_item(r, n, p, [&](const YAML::Node &item, const std::string &ip) {
      if (!r.expect_map(item, ip, {"source", "dest", "mode", "uid", "gid"})) {
        return;
      }
      FileToInject f;
      bool ok = true;
      if (auto s = r.child(item, ip, "source")) {
        if (auto v = r.path(*s, ip + ".source", true)) {
          f.source = *v;
        } else {
          ok = false;
        }
      } else {
        r.missing(item, ip, "source");
        ok = false;
      }
      if (auto d = r.child(item, ip, "dest")) {
        if (auto v = r.string(*d, ip + ".dest")) {
          f.dest = *v;
        } else {
          ok = false;
        }
      } else {
        r.missing(item, ip, "dest");
        ok = false;
      }
      with(r, item, ip, "mode", [&](const YAML::Node &mn, const std::string &mp) {
        const auto v = mn.IsScalar() && mn.Tag() == "!" ? values::parse_mode(mn.Scalar()) : std::nullopt;
        if (!v) {
          r.error_at(mp,
                     fmt::format("{}: expected a quoted octal mode, got {}",
                                 mp,
                                 mn.IsScalar() ? "'" + mn.Scalar() + "'" : "a structure"),
                     "write modes as quoted octal strings, e.g. \"0644\"");
          ok = false;
        } else {
          f.mode = *v;
        }
      });
      with(r, item, ip, "uid", [&](const YAML::Node &un, const std::string &up) {
        if (auto v = r.uint(un, up, 0, 4294967294ULL)) {
          f.uid = static_cast<std::uint32_t>(*v);
        }
      });
      with(r, item, ip, "gid", [&](const YAML::Node &gn, const std::string &gp) {
        if (auto v = r.uint(gn, gp, 0, 4294967294ULL)) {
          f.gid = static_cast<std::uint32_t>(*v);
        }
      });
      if (ok) {
        m.files.push_back(std::move(f));
      }
    });
  });
}

// Every item is kept, even one with errors, so that volumes[i] in the manifest
// is m.volumes[i] for the cross-field rules (which skip keys that failed); a
// manifest with errors is never handed out.
void
read_volumes(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "volumes", [&](const YAML::Node &n, const std::string &p) {
    for_each_item(r, n, p, [&](const YAML::Node &item, const std::string &ip) {
      Volume &v = m.volumes.emplace_back();
      if (!r.expect_map(item,
                        ip,
                        {"name",
                         "kind",
                         "mount",
                         "filesystem",
                         "size",
                         "mount_options",
                         "required",
                         "resource_path",
                         "source",
                         "output",
                         "key_file"})) {
        return;
      }
      if (auto node = r.child(item, ip, "name")) {
        if (auto s = r.string(*node, ip + ".name")) {
          static const std::regex k_name("[a-z0-9][a-z0-9-]{0,23}");
          if (!std::regex_match(*s, k_name)) {
            r.error_at(ip + ".name",
                       fmt::format("{}.name: '{}' is not a valid volume name", ip, *s),
                       "1-24 lower-case letters, digits and '-', not starting with '-' (file, mapper, "
                       "label and KBS resource names derive from it)");
          } else {
            v.name = *s;
          }
        }
      } else {
        r.missing(item, ip, "name", "e.g. name: data");
      }
      with(r, item, ip, "kind", [&](const YAML::Node &kn, const std::string &kp) {
        if (auto s = r.string(kn, kp)) {
          if (*s != "built") {
            r.error_at(kp,
                       fmt::format("{}: '{}' is not supported", kp, *s),
                       "built is the only kind this version makes (cvmforge build writes the volume's disk)");
          } else {
            v.kind = VolumeKind::built;
          }
        }
      });
      if (auto node = r.child(item, ip, "mount")) {
        if (auto s = r.string(*node, ip + ".mount")) {
          v.mount = *s;
        }
      } else {
        r.missing(item, ip, "mount", "the guest directory to mount it on, e.g. mount: /srv/data");
      }
      with(r, item, ip, "filesystem", [&](const YAML::Node &fn, const std::string &fp) {
        if (auto s = r.choice(fn, fp, {"ext4", "xfs"})) {
          v.filesystem = *s == "xfs" ? Filesystem::xfs : Filesystem::ext4;
        }
      });
      if (auto node = r.child(item, ip, "size")) {
        if (auto s = r.size(*node, ip + ".size", 64 * k_mib, 64 * k_tib)) {
          v.size_bytes = *s;
        }
      } else {
        r.missing(item, ip, "size", "the volume disk's virtual size, e.g. size: 10G");
      }
      with(r, item, ip, "mount_options", [&](const YAML::Node &on, const std::string &op) {
        for_each_item(r, on, op, [&](const YAML::Node &opt, const std::string &jp) {
          if (auto s = r.string(opt, jp)) {
            // One fstab field: no whitespace or '#', no empty option.
            static const std::regex k_option("[A-Za-z0-9=._:/+@-]+(,[A-Za-z0-9=._:/+@-]+)*");
            if (!std::regex_match(*s, k_option)) {
              r.error_at(jp,
                         fmt::format("{}: '{}' is not a mount option", jp, *s),
                         "one fstab option per entry, e.g. noatime or commit=30; no spaces or '#'");
            } else {
              v.mount_options.push_back(*s);
            }
          }
        });
      });
      with(r, item, ip, "required", [&](const YAML::Node &bn, const std::string &bp) {
        if (auto b = r.boolean(bn, bp)) {
          v.required = *b;
        }
      });
      with(r, item, ip, "resource_path", [&](const YAML::Node &rn, const std::string &rp) {
        if (auto s = read_resource_path(r, rn, rp)) {
          v.resource_path = *s;
        }
      });
      with(r, item, ip, "source", [&](const YAML::Node &sn, const std::string &sp) {
        if (auto d = r.directory(sn, sp, true)) {
          v.source = *d;
        }
      });
      with(r, item, ip, "output", [&](const YAML::Node &on, const std::string &op) {
        if (auto o = r.path(on, op, false)) {
          v.output = *o;
        }
      });
      with(r, item, ip, "key_file", [&](const YAML::Node &kn, const std::string &kp) {
        if (auto k = r.path(kn, kp, false)) {
          v.key_file = *k;
        }
      });
    });
  });
}

void
read_measurement(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "measurement", [&](const YAML::Node &node, const std::string &path) {
    if (!r.expect_map(node, path, {"profile", "profiles"})) {
      return;
    }
    with(r, node, path, "profile", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.string(n, p)) {
        m.measurement.profile = *v;
      }
    });
    with(r, node, path, "profiles", [&](const YAML::Node &profiles, const std::string &pp) {
      if (!profiles.IsMap()) {
        r.error(profiles, fmt::format("{}: expected a mapping of profile names to profiles", pp));
        return;
      }
      for (const auto &entry : profiles) {
        const std::string name = entry.first.Scalar();
        const std::string np = fmt::format("{}.{}", pp, name);
        r.remember(np, entry.first);
        static const std::regex k_name("[A-Za-z0-9._-]{1,64}");
        if (!std::regex_match(name, k_name)) {
          r.error(entry.first,
                  fmt::format("{}: '{}' is not a valid profile name", pp, name),
                  "1-64 characters of A-Z a-z 0-9 . _ -");
          continue;
        }
        const YAML::Node &prof = entry.second;
        if (!r.expect_map(prof,
                          np,
                          {"vcpus",
                           "memory",
                           "qemu_version",
                           "ovmf_version",
                           "firmware",
                           "platform",
                           "reference_ccel"})) {
          continue;
        }
        PlatformProfile pr;
        pr.name = name;
        with(r, prof, np, "vcpus", [&](const YAML::Node &n, const std::string &p) {
          if (auto v = r.uint(n, p, 1, 512)) {
            pr.vcpus = static_cast<std::uint32_t>(*v);
          }
        });
        with(r, prof, np, "memory", [&](const YAML::Node &n, const std::string &p) {
          if (auto v = r.size(n, p, 512 * k_mib, 16 * k_tib)) {
            pr.memory_bytes = *v;
          }
        });
        with(r, prof, np, "qemu_version", [&](const YAML::Node &n, const std::string &p) {
          if (auto v = r.string(n, p)) {
            static const std::regex k_version("[0-9]+\\.[0-9]+(\\.[0-9]+)?");
            if (!std::regex_match(*v, k_version)) {
              r.error_at(p,
                         fmt::format("{}: '{}' is not a QEMU version", p, *v),
                         "write MAJOR.MINOR, quoted, e.g. \"8.2\"");
            } else {
              pr.qemu_version = *v;
            }
          }
        });
        with(r, prof, np, "firmware", [&](const YAML::Node &n, const std::string &p) {
          if (auto v = r.path(n, p, true)) {
            pr.firmware = *v;
          }
        });
        with(r, prof, np, "ovmf_version", [&](const YAML::Node &n, const std::string &p) {
          if (auto v = r.string(n, p)) {
            static const std::regex k_ovmf("edk2-stable[0-9]{6}");
            if (!std::regex_match(*v, k_ovmf)) {
              r.error_at(
                  p,
                  fmt::format("{}: '{}' is not an edk2 release tag", p, *v),
                  "write the tag the firmware was built from, e.g. edk2-stable202211 (Debian 12's ovmf)");
            } else {
              pr.ovmf_version = *v;
            }
          }
        });
        with(r, prof, np, "platform", [&](const YAML::Node &n, const std::string &p) {
          if (auto v = r.path(n, p, true)) {
            pr.platform = *v;
          }
        });
        with(r, prof, np, "reference_ccel", [&](const YAML::Node &n, const std::string &p) {
          if (auto v = r.path(n, p, true)) {
            pr.reference_ccel = *v;
          }
        });
        m.measurement.profiles.emplace(name, std::move(pr));
      }
    });
  });
}

void
read_reproducibility(Reader &r, const YAML::Node &root, Manifest &m) {
  with(r, root, "", "reproducibility", [&](const YAML::Node &node, const std::string &path) {
    if (!r.expect_map(node, path, {"source_date_epoch", "seed"})) {
      return;
    }
    with(r, node, path, "source_date_epoch", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.uint(n, p, 0, 253402300799ULL)) { // up to 9999-12-31
        m.reproducibility.source_date_epoch = static_cast<std::int64_t>(*v);
      }
    });
    with(r, node, path, "seed", [&](const YAML::Node &n, const std::string &p) {
      if (auto v = r.string(n, p)) {
        if (v->empty()) {
          r.error_at(p, fmt::format("{}: the seed is empty", p), "omit it for random UUIDs");
        } else {
          m.reproducibility.seed = *v;
        }
      }
    });
  });
}

void
read_top(Reader &r, const YAML::Node &root, Manifest &m) {
  static const std::vector<std::string> k_keys{"version",
                                               "name",
                                               "base",
                                               "output",
                                               "partitions",
                                               "luks",
                                               "key",
                                               "initramfs",
                                               "attestation",
                                               "boot",
                                               "files",
                                               "volumes",
                                               "measurement",
                                               "reproducibility"};
  r.expect_map(root, "", k_keys);
  if (auto v = r.child(root, "", "version")) {
    if (auto n = r.uint(*v, "version", 0, 1000)) {
      if (*n != 1) {
        r.error_at("version",
                   fmt::format("version: manifest schema {} is not supported", *n),
                   "this cvmforge reads version: 1");
      }
    }
  } else {
    r.missing(root, "", "version", "start the manifest with 'version: 1'");
  }
  with(r, root, "", "name", [&](const YAML::Node &n, const std::string &p) {
    if (auto v = r.string(n, p)) {
      static const std::regex k_name("[a-z0-9][a-z0-9._-]{0,62}");
      if (!std::regex_match(*v, k_name)) {
        r.error_at(p,
                   fmt::format("name: '{}' is not a valid name", *v),
                   "lower-case letters, digits, '.', '_' and '-', at most 63");
      } else {
        m.name = *v;
      }
    }
  });
  read_base(r, root, m);
  read_output(r, root, m);
  read_partitions(r, root, m);
  read_luks(r, root, m);
  read_key(r, root, m);
  read_initramfs(r, root, m);
  read_attestation(r, root, m);
  read_boot(r, root, m);
  read_files(r, root, m);
  read_volumes(r, root, m);
  read_measurement(r, root, m);
  read_reproducibility(r, root, m);
}

// yaml-cpp reports a misplaced line where the parse fails, which for an
// indentation mistake is the line after the cause. Say where to look.
std::string
yaml_hint(const std::string &text, int error_line) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  const auto content = [&](int n) {
    if (n < 1 || n > static_cast<int>(lines.size())) {
      return false;
    }
    const auto &l = lines[static_cast<std::size_t>(n - 1)];
    const auto first = l.find_first_not_of(' ');
    return first != std::string::npos && l[first] != '#';
  };
  const auto indent = [&](int n) {
    return static_cast<int>(lines[static_cast<std::size_t>(n - 1)].find_first_not_of(' '));
  };
  int line = error_line;
  while (line >= 1 && !content(line)) {
    --line;
  }
  int above = line - 1;
  while (above >= 1 && !content(above)) {
    --above;
  }
  if (line < 1 || above < 1) {
    return {};
  }
  std::string generic = "YAML nests by indentation: check the columns of this line and the lines above";
  if (indent(line) > indent(above)) {
    const auto &prev = lines[static_cast<std::size_t>(above - 1)];
    const auto colon = prev.find(':');
    const bool has_value =
        colon != std::string::npos && prev.find_first_not_of(' ', colon + 1) != std::string::npos;
    if (has_value) {
      return fmt::format("this line is indented more than line {} (column {}), which already has a value: "
                         "is line {} at the wrong column?",
                         above,
                         indent(above) + 1,
                         above);
    }
  }
  return generic;
}

} // namespace

Location
Manifest::where(const std::string &dotted_key) const {
  const auto it = locations.find(dotted_key);
  if (it != locations.end()) {
    return it->second;
  }
  return {manifest_path.string(), 1, 1};
}

LoadResult
load_from_string(const std::string &text, const std::filesystem::path &path, const LoadOptions &options) {
  LoadResult result;
  Manifest m;
  m.manifest_path = std::filesystem::absolute(path).lexically_normal();
  const std::string file_name = path.string();
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception &e) {
    result.diagnostics.error(
        {file_name, e.mark.line >= 0 ? e.mark.line + 1 : 1, e.mark.column >= 0 ? e.mark.column + 1 : 1},
        fmt::format("not valid YAML: {}", e.msg),
        e.mark.line >= 0 && e.msg != "end of map flow not found" && e.msg != "end of sequence flow not found"
            ? yaml_hint(text, e.mark.line + 1)
            : std::string());
    return result;
  }
  Reader reader(file_name, m.manifest_path.parent_path(), result.diagnostics, m.locations, options);
  if (!root.IsDefined() || root.IsNull()) {
    result.diagnostics.error({file_name, 1, 1}, "the manifest is empty", "start with 'version: 1'");
    return result;
  }
  if (!root.IsMap()) {
    reader.error(root, "a manifest is a YAML mapping with at least 'version', 'base' and 'output'");
    return result;
  }
  read_top(reader, root, m);
  detail::apply_defaults(m);
  if (!reader.structure_failed()) {
    detail::validate(reader, m);
  }
  result.diagnostics.sort();
  if (!result.diagnostics.has_errors()) {
    result.manifest = std::move(m);
  }
  return result;
}

LoadResult
load(const std::filesystem::path &path, const LoadOptions &options) {
  std::string text;
  try {
    text = fs::read_text(path, 4U << 20U);
  } catch (const Error &e) {
    LoadResult result;
    result.diagnostics.error({path.string(), 1, 1}, e.what());
    return result;
  }
  return load_from_string(text, path, options);
}

const char *
to_string(ImageFormat v) {
  return v == ImageFormat::raw ? "raw" : "qcow2";
}
const char *
to_string(SizePolicy v) {
  return v == SizePolicy::fixed ? "fixed" : "fit";
}
const char *
to_string(InitramfsGenerator v) {
  return v == InitramfsGenerator::dracut ? "dracut" : "initramfs-tools";
}
const char *
to_string(const std::optional<InitramfsGenerator> &v) {
  return v ? to_string(*v) : "auto";
}
const char *
to_string(KeySource v) {
  return v == KeySource::file ? "file" : "generate";
}
const char *
to_string(PbkdfType v) {
  switch (v) {
  case PbkdfType::argon2i:
    return "argon2i";
  case PbkdfType::argon2id:
    return "argon2id";
  case PbkdfType::pbkdf2:
    break;
  }
  return "pbkdf2";
}
const char *
to_string(BootMode v) {
  switch (v) {
  case BootMode::direct:
    return "direct";
  case BootMode::uki:
    return "uki";
  case BootMode::grub:
    break;
  }
  return "grub";
}
const char *
to_string(Tee v) {
  return v == Tee::sample ? "sample" : "tdx";
}
const char *
to_string(Filesystem v) {
  return v == Filesystem::xfs ? "xfs" : "ext4";
}
const char *
to_string(VolumeKind /*v*/) {
  return "built";
}

} // namespace cvm::manifest
