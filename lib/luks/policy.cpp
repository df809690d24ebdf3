// SPDX-License-Identifier: Apache-2.0
#include "lib/luks/policy.hpp"

#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <set>

namespace cvm::luks {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view k_policy_format = "cvmforge-luks-policy/1";

// Anti-forensic splitter parameters every LUKS2 keyslot written by
// libcryptsetup uses; nothing else is acceptable.
constexpr std::string_view k_af_type = "luks1";
constexpr std::uint32_t k_af_stripes = 4000;
constexpr std::string_view k_af_hash = "sha256";
constexpr std::size_t k_salt_size = 32;

class Checker {
public:
  Checker(const Header &header, const Policy &policy)
    : m_header(header)
    , m_policy(policy) {}

  std::vector<Violation>
  run() {
    check_binary(m_header.primary(), "binary.primary", 0);
    check_binary(m_header.secondary(), "binary.secondary", m_header.metadata_size());
    check_copies();
    const Metadata &md = m_header.metadata();
    for (const auto &field : md.unknown_fields) {
      add(field, "unknown metadata field");
    }
    check_config(md.config);
    check_keyslots(md.keyslots);
    check_segments(md.segments);
    check_digests(md.digests);
    for (const auto &token : md.tokens) {
      add("tokens." + token.id, fmt::format("token of type \"{}\" present; no tokens allowed", token.type));
    }
    return std::move(m_violations);
  }

private:
  void
  add(std::string where, std::string what) {
    m_violations.push_back({std::move(where), std::move(what)});
  }

  template<typename T>
  void
  expect_eq(const std::string &where, const T &actual, const T &expected) {
    if (!(actual == expected)) {
      add(where, fmt::format("is {}, policy requires {}", actual, expected));
    }
  }

  void
  expect_str(const std::string &where, const std::string &actual, const std::string &expected) {
    if (actual != expected) {
      add(where, fmt::format(R"(is "{}", policy requires "{}")", actual, expected));
    }
  }

  void
  check_binary(const BinaryHeader &b, const std::string &where, std::uint64_t expected_offset) {
    expect_str(where + ".checksum_algorithm", b.checksum_algorithm, "sha256");
    if (!b.checksum_matches()) {
      add(where + ".checksum", "checksum does not match the header contents");
    }
    expect_eq(where + ".hdr_offset", b.hdr_offset, expected_offset);
    expect_eq(where + ".hdr_size", b.hdr_size, m_policy.metadata_size);
    expect_str(where + ".uuid", b.uuid, m_policy.uuid);
    expect_str(where + ".label", b.label, m_policy.label);
    expect_str(where + ".subsystem", b.subsystem, m_policy.subsystem);
    if (!b.padding_zero) {
      add(where + ".padding", "reserved bytes are not zero");
    }
    if (!b.json_padding_zero) {
      add(where + ".json_area", "non-zero bytes after the JSON text");
    }
  }

  void
  check_copies() {
    const BinaryHeader &p = m_header.primary();
    const BinaryHeader &s = m_header.secondary();
    // The two copies differ only in magic, offset, salt and checksum.
    if (p.seqid != s.seqid) {
      add("binary.secondary.seqid", fmt::format("is {}, primary has {}", s.seqid, p.seqid));
    }
    if (!m_header.json_areas_identical()) {
      add("binary.secondary.json_area", "differs from the primary JSON area");
    }
  }

  void
  check_config(const Config &config) {
    expect_eq("config.json_size", config.json_size, m_policy.metadata_size - k_binary_header_size);
    expect_eq("config.keyslots_size", config.keyslots_size, m_policy.keyslots_size);
    for (const auto &flag : config.flags) {
      add("config.flags", fmt::format("flag \"{}\" set; no flags allowed", flag));
    }
    if (config.requirements) {
      add("config.requirements",
          fmt::format("requirements present ({}); none allowed", *config.requirements));
    }
  }

  void
  check_kdf(const std::string &where, const std::optional<Kdf> &kdf, const KdfBounds &bounds) {
    if (!kdf) {
      add(where, "missing");
      return;
    }
    expect_str(where + ".type", kdf->type, bounds.type);
    if (kdf->type != bounds.type) {
      return;
    }
    const auto salt = base64_decode(kdf->salt);
    if (!salt || salt->size() != k_salt_size) {
      add(where + ".salt", fmt::format("not {} bytes of base64", k_salt_size));
    }
    if (bounds.type == "pbkdf2") {
      expect_str(where + ".hash", kdf->hash, bounds.hash);
      if (kdf->iterations == 0 || kdf->iterations > bounds.max_iterations) {
        add(where + ".iterations",
            fmt::format("is {}, policy allows 1..{}", kdf->iterations, bounds.max_iterations));
      }
      if (kdf->time != 0 || kdf->memory_kib != 0 || kdf->cpus != 0) {
        add(where, "argon2 parameters on a pbkdf2 keyslot");
      }
    } else {
      if (kdf->time == 0 || kdf->time > bounds.max_time) {
        add(where + ".time", fmt::format("is {}, policy allows 1..{}", kdf->time, bounds.max_time));
      }
      if (kdf->memory_kib == 0 || kdf->memory_kib > bounds.max_memory_kib) {
        add(where + ".memory",
            fmt::format("is {} KiB, policy allows 1..{} KiB", kdf->memory_kib, bounds.max_memory_kib));
      }
      if (kdf->cpus == 0 || kdf->cpus > bounds.max_cpus) {
        add(where + ".cpus", fmt::format("is {}, policy allows 1..{}", kdf->cpus, bounds.max_cpus));
      }
      if (!kdf->hash.empty() || kdf->iterations != 0) {
        add(where, "pbkdf2 parameters on an argon2 keyslot");
      }
    }
  }

  void
  check_keyslots(const std::vector<Keyslot> &keyslots) {
    const std::uint32_t key_bytes = m_policy.key_size_bits / 8;
    const std::uint64_t area_begin = 2 * m_policy.metadata_size;
    const std::uint64_t area_end = area_begin + m_policy.keyslots_size;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> areas;
    std::set<std::string> present;
    for (const auto &ks : keyslots) {
      const std::string where = "keyslots." + ks.id;
      present.insert(ks.id);
      const auto rule = std::find_if(
          m_policy.keyslots.begin(), m_policy.keyslots.end(), [&ks](const auto &k) { return k.id == ks.id; });
      if (rule == m_policy.keyslots.end()) {
        add(where, fmt::format("keyslot not allowed by policy (allowed: {})", allowed_keyslots()));
        continue;
      }
      expect_str(where + ".type", ks.type, "luks2");
      expect_eq(where + ".key_size", ks.key_size, key_bytes);
      // libcryptsetup writes a priority only when it is not "normal" (1);
      // "ignore" (0) would hide the unlock keyslot from an any-slot open.
      if (ks.priority && *ks.priority != 1) {
        add(where + ".priority", fmt::format("is {}, only normal (1) or absent allowed", *ks.priority));
      }
      if (!ks.af) {
        add(where + ".af", "missing");
      } else {
        expect_str(where + ".af.type", ks.af->type, std::string(k_af_type));
        expect_eq(where + ".af.stripes", ks.af->stripes, k_af_stripes);
        expect_str(where + ".af.hash", ks.af->hash, std::string(k_af_hash));
      }
      expect_str(where + ".area.type", ks.area.type, "raw");
      expect_str(where + ".area.encryption", ks.area.encryption, m_policy.keyslot_encryption);
      expect_eq(where + ".area.key_size", ks.area.key_size, m_policy.keyslot_key_size_bits / 8);
      // The keyslot area must lie inside the binary keyslots area, and not
      // overlap another keyslot: libcryptsetup would read key material from
      // wherever the JSON points.
      const std::uint64_t begin = ks.area.offset;
      const std::uint64_t size = ks.area.size;
      if (size == 0 || begin < area_begin || begin > area_end || size > area_end - begin) {
        add(where + ".area",
            fmt::format(
                "[{}, +{}) is outside the keyslots area [{}, {})", begin, size, area_begin, area_end));
      } else {
        for (const auto &[b, s] : areas) {
          if (begin < b + s && b < begin + size) {
            add(where + ".area", "overlaps another keyslot area");
          }
        }
        areas.emplace_back(begin, size);
      }
      check_kdf(where + ".kdf", ks.kdf, rule->kdf);
    }
    for (const auto &rule : m_policy.keyslots) {
      if (rule.presence == KeyslotPresence::required && !present.contains(rule.id)) {
        add("keyslots." + rule.id, "required keyslot missing");
      }
    }
  }

  [[nodiscard]] std::string
  allowed_keyslots() const {
    std::string out;
    for (const auto &rule : m_policy.keyslots) {
      out += (out.empty() ? "" : ", ") + rule.id;
    }
    return out;
  }

  void
  check_segments(const std::vector<Segment> &segments) {
    if (segments.size() != 1) {
      add("segments", fmt::format("{} segments, policy requires exactly 1", segments.size()));
    }
    for (const auto &seg : segments) {
      const std::string where = "segments." + seg.id;
      expect_str(where + ".id", seg.id, "0");
      expect_str(where + ".type", seg.type, "crypt");
      expect_eq(where + ".offset", seg.offset, m_policy.data_offset);
      if (seg.size) {
        add(where + ".size", fmt::format("is {}, policy requires \"dynamic\"", *seg.size));
      }
      expect_eq(where + ".iv_tweak", seg.iv_tweak, std::uint64_t{0});
      expect_str(where + ".encryption", seg.encryption, m_policy.encryption);
      expect_eq(where + ".sector_size", seg.sector_size, m_policy.sector_size);
      if (m_policy.integrity) {
        if (!seg.integrity) {
          add(where + ".integrity", fmt::format("missing, policy requires \"{}\"", *m_policy.integrity));
        } else {
          expect_str(where + ".integrity.type", seg.integrity->type, *m_policy.integrity);
          expect_str(where + ".integrity.journal_encryption", seg.integrity->journal_encryption, "none");
          expect_str(where + ".integrity.journal_integrity", seg.integrity->journal_integrity, "none");
        }
      } else if (seg.integrity) {
        add(where + ".integrity",
            fmt::format("\"{}\" present, policy has no integrity", seg.integrity->type));
      }
      for (const auto &flag : seg.flags) {
        add(where + ".flags", fmt::format("flag \"{}\" set; no flags allowed", flag));
      }
    }
  }

  void
  check_digests(const std::vector<Digest> &digests) {
    if (digests.size() != 1) {
      add("digests", fmt::format("{} digests, policy requires exactly 1", digests.size()));
    }
    for (const auto &d : digests) {
      const std::string where = "digests." + d.id;
      const PinnedDigest &pin = m_policy.digest;
      expect_str(where + ".type", d.type, pin.type);
      expect_str(where + ".hash", d.hash, pin.hash);
      expect_eq(where + ".iterations", d.iterations, pin.iterations);
      const auto salt = base64_decode(d.salt);
      if (!salt || *salt != pin.salt) {
        add(where + ".salt", "differs from the pinned volume-key digest salt");
      }
      const auto value = base64_decode(d.digest);
      if (!value || *value != pin.digest) {
        add(where + ".digest", "differs from the pinned volume-key digest (a different volume key)");
      }
      if (d.segments != std::vector<std::string>{"0"}) {
        add(where + ".segments", "must be exactly [\"0\"]");
      }
      // Every keyslot must be bound to this digest, and nothing else.
      std::vector<std::string> expected;
      for (const auto &ks : m_header.metadata().keyslots) {
        expected.push_back(ks.id);
      }
      std::vector<std::string> actual = d.keyslots;
      std::sort(actual.begin(), actual.end());
      std::sort(expected.begin(), expected.end());
      if (actual != expected) {
        add(where + ".keyslots", "does not list exactly the header's keyslots");
      }
    }
  }

  const Header &m_header;
  const Policy &m_policy;
  std::vector<Violation> m_violations;
};

// ---- JSON ------------------------------------------------------------------

[[noreturn]] void
fail_policy(const std::string &message) {
  throw Error(ErrorKind::input, "LUKS policy: {}", message);
}

// Strict reader for the policy document: every member must be consumed.
class Reader {
public:
  Reader(const Json &object, std::string path)
    : m_object(object)
    , m_path(std::move(path)) {
    if (!m_object.is_object()) {
      fail_policy(fmt::format("{}: not an object", m_path));
    }
  }

  const Json &
  get(const std::string &key) {
    const auto it = m_object.find(key);
    if (it == m_object.end()) {
      fail_policy(fmt::format("{}: missing \"{}\"", m_path, key));
    }
    ++m_used;
    return *it;
  }

  std::string
  str(const std::string &key) {
    const Json &v = get(key);
    if (!v.is_string()) {
      fail_policy(fmt::format("{}.{}: not a string", m_path, key));
    }
    return v.get<std::string>();
  }

  std::uint64_t
  u64(const std::string &key) {
    const Json &v = get(key);
    if (!v.is_number_unsigned()) {
      fail_policy(fmt::format("{}.{}: not an unsigned integer", m_path, key));
    }
    return v.get<std::uint64_t>();
  }

  std::uint32_t
  u32(const std::string &key) {
    const std::uint64_t v = u64(key);
    if (v > std::numeric_limits<std::uint32_t>::max()) {
      fail_policy(fmt::format("{}.{}: out of range", m_path, key));
    }
    return static_cast<std::uint32_t>(v);
  }

  std::vector<std::byte>
  base64(const std::string &key) {
    auto bytes = base64_decode(str(key));
    if (!bytes) {
      fail_policy(fmt::format("{}.{}: not base64", m_path, key));
    }
    return std::move(*bytes);
  }

  void
  finish() const {
    if (m_used != m_object.size()) {
      fail_policy(fmt::format("{}: unknown members", m_path));
    }
  }

private:
  const Json &m_object;
  std::string m_path;
  std::size_t m_used = 0;
};

std::string_view
presence_name(KeyslotPresence presence) {
  return presence == KeyslotPresence::required ? "required" : "optional";
}

} // namespace

Digest
PinnedDigest::as_digest() const {
  Digest d;
  d.id = "pinned";
  d.type = type;
  d.hash = hash;
  d.iterations = iterations;
  d.salt = base64_encode(salt);
  d.digest = base64_encode(digest);
  return d;
}

std::vector<Violation>
check(const Header &header, const Policy &policy) {
  return Checker(header, policy).run();
}

std::string
describe(const std::vector<Violation> &violations) {
  std::string out;
  for (const auto &v : violations) {
    if (!out.empty()) {
      out += "; ";
    }
    out += v.where + ": " + v.what;
  }
  return out;
}

void
require_compliant(const Header &header, const Policy &policy) {
  const auto violations = check(header, policy);
  if (!violations.empty()) {
    throw Error(ErrorKind::input, "LUKS2 header violates the image policy: {}", describe(violations));
  }
}

Header
read_compliant_header(int fd, const Policy &policy) {
  Header header = read_header(fd, 2 * policy.metadata_size + policy.keyslots_size);
  require_compliant(header, policy);
  return header;
}

Policy
derive_policy(const Header &header) {
  const Metadata &md = header.metadata();
  if (md.segments.size() != 1 || md.digests.size() != 1 || md.keyslots.empty()) {
    throw Error(ErrorKind::input,
                "derive LUKS policy: header has {} segments, {} digests, {} keyslots; expected 1, 1, >= 1",
                md.segments.size(),
                md.digests.size(),
                md.keyslots.size());
  }
  const Segment &seg = md.segments.front();
  const Digest &dig = md.digests.front();
  Policy p;
  p.uuid = header.primary().uuid;
  p.label = header.primary().label;
  p.subsystem = header.primary().subsystem;
  p.encryption = seg.encryption;
  p.key_size_bits = md.keyslots.front().key_size * 8;
  p.keyslot_encryption = md.keyslots.front().area.encryption;
  p.keyslot_key_size_bits = md.keyslots.front().area.key_size * 8;
  p.sector_size = seg.sector_size;
  p.metadata_size = header.metadata_size();
  p.keyslots_size = md.config.keyslots_size;
  p.data_offset = seg.offset;
  if (seg.integrity) {
    p.integrity = seg.integrity->type;
  }
  for (const auto &ks : md.keyslots) {
    if (!ks.kdf) {
      throw Error(ErrorKind::input, "derive LUKS policy: keyslot {} has no kdf", ks.id);
    }
    KeyslotPolicy rule;
    rule.id = ks.id;
    rule.presence = ks.id == "0" ? KeyslotPresence::required : KeyslotPresence::optional;
    rule.kdf.type = ks.kdf->type;
    rule.kdf.hash = ks.kdf->hash;
    rule.kdf.max_iterations = ks.kdf->iterations;
    rule.kdf.max_time = ks.kdf->time;
    rule.kdf.max_memory_kib = ks.kdf->memory_kib;
    rule.kdf.max_cpus = ks.kdf->cpus;
    p.keyslots.push_back(std::move(rule));
  }
  const auto salt = base64_decode(dig.salt);
  const auto value = base64_decode(dig.digest);
  if (!salt || !value) {
    throw Error(ErrorKind::input, "derive LUKS policy: digest {} is not valid base64", dig.id);
  }
  p.digest = PinnedDigest{dig.type, dig.hash, dig.iterations, *salt, *value};
  return p;
}

std::string
policy_to_json(const Policy &policy) {
  Json keyslots = Json::array();
  for (const auto &ks : policy.keyslots) {
    keyslots.push_back(Json{
        {"id", ks.id},
        {"presence", presence_name(ks.presence)},
        {"kdf",
         Json{{"type", ks.kdf.type},
              {"hash", ks.kdf.hash},
              {"max_iterations", ks.kdf.max_iterations},
              {"max_time", ks.kdf.max_time},
              {"max_memory_kib", ks.kdf.max_memory_kib},
              {"max_cpus", ks.kdf.max_cpus}}},
    });
  }
  const Json j{
      {"format", k_policy_format},
      {"uuid", policy.uuid},
      {"label", policy.label},
      {"subsystem", policy.subsystem},
      {"encryption", policy.encryption},
      {"key_size_bits", policy.key_size_bits},
      {"keyslot_encryption", policy.keyslot_encryption},
      {"keyslot_key_size_bits", policy.keyslot_key_size_bits},
      {"sector_size", policy.sector_size},
      {"metadata_size", policy.metadata_size},
      {"keyslots_size", policy.keyslots_size},
      {"data_offset", policy.data_offset},
      {"integrity", policy.integrity ? Json(*policy.integrity) : Json(nullptr)},
      {"keyslots", keyslots},
      {"digest",
       Json{{"type", policy.digest.type},
            {"hash", policy.digest.hash},
            {"iterations", policy.digest.iterations},
            {"salt", base64_encode(policy.digest.salt)},
            {"digest", base64_encode(policy.digest.digest)}}},
  };
  return j.dump(2) + "\n";
}

Policy
policy_from_json(std::string_view json) {
  const Json root = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    fail_policy("not valid JSON");
  }
  Reader r(root, "policy");
  if (r.str("format") != k_policy_format) {
    fail_policy(fmt::format("unsupported format (expected \"{}\")", k_policy_format));
  }
  Policy p;
  p.uuid = r.str("uuid");
  p.label = r.str("label");
  p.subsystem = r.str("subsystem");
  p.encryption = r.str("encryption");
  p.key_size_bits = r.u32("key_size_bits");
  p.keyslot_encryption = r.str("keyslot_encryption");
  p.keyslot_key_size_bits = r.u32("keyslot_key_size_bits");
  p.sector_size = r.u32("sector_size");
  p.metadata_size = r.u64("metadata_size");
  p.keyslots_size = r.u64("keyslots_size");
  p.data_offset = r.u64("data_offset");
  if (const Json &integrity = r.get("integrity"); !integrity.is_null()) {
    if (!integrity.is_string()) {
      fail_policy("policy.integrity: not a string or null");
    }
    p.integrity = integrity.get<std::string>();
  }
  const Json &keyslots = r.get("keyslots");
  if (!keyslots.is_array() || keyslots.empty()) {
    fail_policy("policy.keyslots: not a non-empty array");
  }
  for (const auto &item : keyslots) {
    Reader k(item, "policy.keyslots[]");
    KeyslotPolicy ks;
    ks.id = k.str("id");
    const std::string presence = k.str("presence");
    if (presence == "required") {
      ks.presence = KeyslotPresence::required;
    } else if (presence == "optional") {
      ks.presence = KeyslotPresence::optional;
    } else {
      fail_policy(fmt::format("policy.keyslots[].presence: unknown value \"{}\"", presence));
    }
    Reader kdf(k.get("kdf"), "policy.keyslots[].kdf");
    ks.kdf.type = kdf.str("type");
    ks.kdf.hash = kdf.str("hash");
    ks.kdf.max_iterations = kdf.u32("max_iterations");
    ks.kdf.max_time = kdf.u32("max_time");
    ks.kdf.max_memory_kib = kdf.u32("max_memory_kib");
    ks.kdf.max_cpus = kdf.u32("max_cpus");
    kdf.finish();
    k.finish();
    p.keyslots.push_back(std::move(ks));
  }
  Reader d(r.get("digest"), "policy.digest");
  p.digest.type = d.str("type");
  p.digest.hash = d.str("hash");
  p.digest.iterations = d.u32("iterations");
  p.digest.salt = d.base64("salt");
  p.digest.digest = d.base64("digest");
  d.finish();
  r.finish();
  if (!(p.metadata_size >= k_min_metadata_size && p.metadata_size <= k_max_metadata_size) ||
      p.key_size_bits == 0 || p.key_size_bits % 8 != 0 || p.keyslot_key_size_bits == 0 ||
      p.keyslot_key_size_bits % 8 != 0 || p.keyslots_size > k_max_keyslots_size || p.digest.digest.empty()) {
    fail_policy("values out of range");
  }
  return p;
}

} // namespace cvm::luks
