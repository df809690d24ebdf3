// SPDX-License-Identifier: Apache-2.0
#include "lib/luks/header.hpp"

#include "lib/crypto/crypto.hpp"
#include "lib/util/base64.hpp"
#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <set>

namespace cvm::luks {

namespace {

using Json = nlohmann::json;

// Field offsets of struct luks2_hdr_disk (LUKS2 on-disk format specification).
constexpr std::size_t k_off_magic = 0;
constexpr std::size_t k_len_magic = 6;
constexpr std::size_t k_off_version = 6;
constexpr std::size_t k_off_hdr_size = 8;
constexpr std::size_t k_off_seqid = 16;
constexpr std::size_t k_off_label = 24;
constexpr std::size_t k_len_label = 48;
constexpr std::size_t k_off_csum_alg = 72;
constexpr std::size_t k_len_csum_alg = 32;
constexpr std::size_t k_off_uuid = 168;
constexpr std::size_t k_len_uuid = 40;
constexpr std::size_t k_off_subsystem = 208;
constexpr std::size_t k_len_subsystem = 48;
constexpr std::size_t k_off_hdr_offset = 256;
constexpr std::size_t k_off_padding = 264; // _padding[184]
constexpr std::size_t k_off_csum = 448;
constexpr std::size_t k_len_csum = 64;

constexpr std::array<unsigned char, k_len_magic> k_magic_primary{'L', 'U', 'K', 'S', 0xba, 0xbe};
constexpr std::array<unsigned char, k_len_magic> k_magic_secondary{'S', 'K', 'U', 'L', 0xba, 0xbe};

// LUKS2 metadata is at most four objects deep below the root
// (keyslots.N.area.*, config.requirements.mandatory[]); tokens may be a bit
// deeper. Anything beyond this is not a LUKS2 header.
constexpr int k_max_json_depth = 8;

[[noreturn]] void
fail_input(const std::string &message) {
  throw Error(ErrorKind::input, "LUKS2 header: {}", message);
}

std::uint64_t
load_be(std::span<const std::byte> bytes, std::size_t offset, std::size_t width) {
  if (offset > bytes.size() || bytes.size() - offset < width) {
    fail_input("read beyond the end of the header");
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value = (value << 8U) | std::to_integer<std::uint64_t>(bytes[offset + i]);
  }
  return value;
}

std::string
load_cstring(std::span<const std::byte> bytes, std::size_t offset, std::size_t length) {
  const auto field = bytes.subspan(offset, length);
  std::string out;
  for (const std::byte b : field) {
    if (b == std::byte{0}) {
      break;
    }
    out.push_back(static_cast<char>(b));
  }
  return out;
}

bool
valid_metadata_size(std::uint64_t size) {
  for (std::uint64_t s = k_min_metadata_size; s <= k_max_metadata_size; s *= 2) {
    if (s == size) {
      return true;
    }
  }
  return false;
}

// Decodes the binary header at `offset` of `bytes` (which must hold the whole
// hdr_size area) and its JSON area.
BinaryHeader
parse_binary(std::span<const std::byte> bytes, std::size_t offset, HeaderCopy copy) {
  const char *which = copy == HeaderCopy::primary ? "primary" : "secondary";
  if (bytes.size() < offset || bytes.size() - offset < k_binary_header_size) {
    fail_input(fmt::format("{} binary header truncated", which));
  }
  const auto hdr = bytes.subspan(offset, k_binary_header_size);
  const auto &magic = copy == HeaderCopy::primary ? k_magic_primary : k_magic_secondary;
  if (!std::equal(magic.begin(), magic.end(), hdr.begin() + k_off_magic, [](unsigned char m, std::byte b) {
        return std::byte{m} == b;
      })) {
    fail_input(fmt::format("{} header: bad magic", which));
  }

  BinaryHeader out;
  out.copy = copy;
  out.version = static_cast<std::uint16_t>(load_be(hdr, k_off_version, 2));
  if (out.version != 2) {
    fail_input(fmt::format("{} header: unsupported version {}", which, out.version));
  }
  out.hdr_size = load_be(hdr, k_off_hdr_size, 8);
  if (!valid_metadata_size(out.hdr_size)) {
    fail_input(fmt::format("{} header: invalid hdr_size {}", which, out.hdr_size));
  }
  out.seqid = load_be(hdr, k_off_seqid, 8);
  out.label = load_cstring(hdr, k_off_label, k_len_label);
  out.checksum_algorithm = load_cstring(hdr, k_off_csum_alg, k_len_csum_alg);
  out.uuid = load_cstring(hdr, k_off_uuid, k_len_uuid);
  out.subsystem = load_cstring(hdr, k_off_subsystem, k_len_subsystem);
  out.hdr_offset = load_be(hdr, k_off_hdr_offset, 8);
  const auto is_zero = [](std::byte b) { return b == std::byte{0}; };
  out.padding_zero = std::all_of(hdr.begin() + k_off_padding, hdr.begin() + k_off_csum, is_zero) &&
                     std::all_of(hdr.begin() + k_off_csum + k_len_csum, hdr.end(), is_zero);

  if (bytes.size() - offset < out.hdr_size) {
    fail_input(
        fmt::format("{} header area truncated ({} of {} bytes)", which, bytes.size() - offset, out.hdr_size));
  }
  const auto area = bytes.subspan(offset, out.hdr_size);

  if (out.checksum_algorithm == "sha256") {
    const auto csum = hdr.subspan(k_off_csum, k_len_csum);
    out.stored_checksum.assign(csum.begin(), csum.begin() + 32);
    // The checksum covers the whole area with the checksum field zeroed.
    crypto::Hasher hasher(crypto::HashAlgorithm::sha256);
    const std::array<std::byte, k_len_csum> zeros{};
    hasher.update(area.first(k_off_csum));
    hasher.update(zeros);
    hasher.update(area.subspan(k_off_csum + k_len_csum));
    out.computed_checksum = hasher.final();
  } else {
    const auto csum = hdr.subspan(k_off_csum, k_len_csum);
    out.stored_checksum.assign(csum.begin(), csum.end());
  }

  const auto json_area = area.subspan(k_binary_header_size);
  const auto nul = std::find(json_area.begin(), json_area.end(), std::byte{0});
  if (nul == json_area.end()) {
    fail_input(fmt::format("{} JSON area is not NUL-terminated", which));
  }
  out.json.assign(
      reinterpret_cast<const char *>(json_area.data()), // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
      static_cast<std::size_t>(nul - json_area.begin()));
  out.json_padding_zero = std::all_of(nul, json_area.end(), [](std::byte b) { return b == std::byte{0}; });
  return out;
}

// ---- strict JSON access ----------------------------------------------------

std::uint64_t
parse_u64_string(const std::string &text, const std::string &path) {
  // LUKS2 stores 64-bit values as decimal strings; accept digits only.
  std::uint64_t value = 0;
  const bool digits = !text.empty() && text.size() <= 20 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const auto *end = text.data() + text.size();
  if (!digits || std::from_chars(text.data(), end, value).ptr != end ||
      (text.size() > 1 && text.front() == '0')) {
    fail_input(fmt::format("{}: not a canonical decimal uint64 string", path));
  }
  return value;
}

// Reads members of one JSON object and records the ones nobody asked for.
class ObjectReader {
public:
  ObjectReader(const Json &object, std::string path, std::vector<std::string> &unknown)
    : m_object(object)
    , m_path(std::move(path))
    , m_unknown(unknown) {
    if (!m_object.is_object()) {
      fail_input(fmt::format("{}: not a JSON object", m_path));
    }
  }
  ObjectReader(const ObjectReader &) = delete;
  ObjectReader &operator=(const ObjectReader &) = delete;
  ObjectReader(ObjectReader &&) = delete;
  ObjectReader &operator=(ObjectReader &&) = delete;
  ~ObjectReader() = default;

  const Json *
  find(const std::string &key) {
    m_used.insert(key);
    const auto it = m_object.find(key);
    return it == m_object.end() ? nullptr : &*it;
  }

  const Json &
  require(const std::string &key) {
    const Json *value = find(key);
    if (value == nullptr) {
      fail_input(fmt::format("{}: missing \"{}\"", m_path, key));
    }
    return *value;
  }

  [[nodiscard]] std::string
  child_path(const std::string &key) const {
    return m_path.empty() ? key : m_path + "." + key;
  }

  std::string
  string(const std::string &key) {
    const Json &v = require(key);
    if (!v.is_string()) {
      fail_input(fmt::format("{}: not a string", child_path(key)));
    }
    return v.get<std::string>();
  }

  std::string
  optional_string(const std::string &key) {
    return find(key) == nullptr ? std::string{} : string(key);
  }

  std::uint32_t
  u32(const std::string &key) {
    const Json &v = require(key);
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
      fail_input(fmt::format("{}: not an unsigned 32-bit integer", child_path(key)));
    }
    return static_cast<std::uint32_t>(v.get<std::uint64_t>());
  }

  std::uint32_t
  optional_u32(const std::string &key) {
    return find(key) == nullptr ? 0 : u32(key);
  }

  std::uint64_t
  u64_string(const std::string &key) {
    return parse_u64_string(string(key), child_path(key));
  }

  std::uint64_t
  optional_u64_string(const std::string &key) {
    return find(key) == nullptr ? 0 : u64_string(key);
  }

  std::vector<std::string>
  string_array(const std::string &key) {
    const Json &v = require(key);
    if (!v.is_array()) {
      fail_input(fmt::format("{}: not an array", child_path(key)));
    }
    std::vector<std::string> out;
    for (const auto &item : v) {
      if (!item.is_string()) {
        fail_input(fmt::format("{}: array member is not a string", child_path(key)));
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  std::vector<std::string>
  optional_string_array(const std::string &key) {
    return find(key) == nullptr ? std::vector<std::string>{} : string_array(key);
  }

  // Records members that were never looked up.
  void
  finish() {
    for (const auto &[key, value] : m_object.items()) {
      if (!m_used.contains(key)) {
        m_unknown.push_back(child_path(key));
      }
    }
  }

private:
  const Json &m_object;
  std::string m_path;
  std::vector<std::string> &m_unknown;
  std::set<std::string> m_used;
};

// LUKS2 object ids are decimal strings; sort members numerically.
std::vector<std::pair<std::string, const Json *>>
members_by_id(const Json &object, const std::string &path) {
  if (!object.is_object()) {
    fail_input(fmt::format("{}: not a JSON object", path));
  }
  std::vector<std::pair<std::uint64_t, std::pair<std::string, const Json *>>> sorted;
  for (const auto &[key, value] : object.items()) {
    const auto id = parse_u64_string(key, fmt::format("{}.{}", path, key));
    sorted.push_back({id, {key, &value}});
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
  std::vector<std::pair<std::string, const Json *>> out;
  out.reserve(sorted.size());
  for (auto &entry : sorted) {
    out.push_back(std::move(entry.second));
  }
  return out;
}

Keyslot
parse_keyslot(const std::string &id, const Json &json, std::vector<std::string> &unknown) {
  const std::string path = "keyslots." + id;
  ObjectReader r(json, path, unknown);
  Keyslot ks;
  ks.id = id;
  ks.type = r.string("type");
  ks.key_size = r.u32("key_size");
  if (const Json *p = r.find("priority"); p != nullptr) {
    if (!p->is_number_integer()) {
      fail_input(fmt::format("{}.priority: not an integer", path));
    }
    ks.priority = p->get<std::int64_t>();
  }
  if (const Json *af = r.find("af"); af != nullptr) {
    ObjectReader a(*af, path + ".af", unknown);
    ks.af = AntiForensic{a.string("type"), a.optional_u32("stripes"), a.optional_string("hash")};
    a.finish();
  }
  {
    ObjectReader a(r.require("area"), path + ".area", unknown);
    ks.area.type = a.string("type");
    ks.area.offset = a.optional_u64_string("offset");
    ks.area.size = a.optional_u64_string("size");
    ks.area.encryption = a.optional_string("encryption");
    ks.area.key_size = a.optional_u32("key_size");
    a.finish();
  }
  if (const Json *kdf = r.find("kdf"); kdf != nullptr) {
    ObjectReader k(*kdf, path + ".kdf", unknown);
    Kdf out;
    out.type = k.string("type");
    out.hash = k.optional_string("hash");
    out.iterations = k.optional_u32("iterations");
    out.time = k.optional_u32("time");
    out.memory_kib = k.optional_u32("memory");
    out.cpus = k.optional_u32("cpus");
    out.salt = k.optional_string("salt");
    k.finish();
    ks.kdf = std::move(out);
  }
  r.finish();
  return ks;
}

Segment
parse_segment(const std::string &id, const Json &json, std::vector<std::string> &unknown) {
  const std::string path = "segments." + id;
  ObjectReader r(json, path, unknown);
  Segment seg;
  seg.id = id;
  seg.type = r.string("type");
  seg.offset = r.u64_string("offset");
  const std::string size = r.string("size");
  if (size != "dynamic") {
    seg.size = parse_u64_string(size, path + ".size");
  }
  seg.iv_tweak = r.optional_u64_string("iv_tweak");
  seg.encryption = r.optional_string("encryption");
  seg.sector_size = r.optional_u32("sector_size");
  if (const Json *integrity = r.find("integrity"); integrity != nullptr) {
    ObjectReader i(*integrity, path + ".integrity", unknown);
    seg.integrity = SegmentIntegrity{
        i.string("type"), i.optional_string("journal_encryption"), i.optional_string("journal_integrity")};
    i.finish();
  }
  seg.flags = r.optional_string_array("flags");
  r.finish();
  return seg;
}

Digest
parse_digest(const std::string &id, const Json &json, std::vector<std::string> &unknown) {
  ObjectReader r(json, "digests." + id, unknown);
  Digest d;
  d.id = id;
  d.type = r.string("type");
  d.keyslots = r.string_array("keyslots");
  d.segments = r.string_array("segments");
  d.hash = r.optional_string("hash");
  d.iterations = r.optional_u32("iterations");
  d.salt = r.optional_string("salt");
  d.digest = r.optional_string("digest");
  r.finish();
  return d;
}

Token
parse_token(const std::string &id, const Json &json) {
  // Any token is a policy violation; keep it whole for the report.
  if (!json.is_object()) {
    fail_input(fmt::format("tokens.{}: not a JSON object", id));
  }
  Token t;
  t.id = id;
  if (const auto it = json.find("type"); it != json.end() && it->is_string()) {
    t.type = it->get<std::string>();
  }
  t.json = json.dump();
  return t;
}

bool
constant_time_equal(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= std::to_integer<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

void
pwrite_all(int fd, std::span<const std::byte> data, std::string_view what) {
  if (!fs::pwrite_full(fd, data, 0)) {
    throw Error(ErrorKind::io, "write LUKS2 header copy {}: {}", what, fs::errno_text(errno));
  }
}

// Appends bytes [buffer.size(), `end`) of `fd` to `buffer`.
void
pread_to(int fd, std::vector<std::byte> &buffer, std::uint64_t end) {
  const std::size_t start = buffer.size();
  if (end <= start) {
    return;
  }
  buffer.resize(static_cast<std::size_t>(end));
  std::size_t done = start;
  while (done < buffer.size()) {
    const ssize_t n = fs::pread_some(fd, std::span(buffer).subspan(done), static_cast<off_t>(done));
    if (n < 0) {
      throw Error(ErrorKind::io, "read LUKS2 header: {}", fs::errno_text(errno));
    }
    if (n == 0) {
      fail_input(fmt::format("truncated: device ends at {} bytes, header needs {}", done, end));
    }
    done += static_cast<std::size_t>(n);
  }
}

} // namespace

// ---- JSON metadata ---------------------------------------------------------

Metadata
parse_metadata_json(std::string_view text) {
  // Reject duplicate keys and silly nesting while parsing: a duplicate key is
  // read differently by different JSON parsers, which is exactly the kind of
  // disagreement an attacker-supplied header would exploit.
  std::vector<std::set<std::string>> keys;
  std::string problem;
  const Json::parser_callback_t callback = [&keys,
                                            &problem](int depth, Json::parse_event_t event, Json &parsed) {
    if (depth > k_max_json_depth && problem.empty()) {
      problem = "JSON nested too deeply";
    }
    switch (event) {
    case Json::parse_event_t::object_start:
      keys.emplace_back();
      break;
    case Json::parse_event_t::object_end:
      if (!keys.empty()) {
        keys.pop_back();
      }
      break;
    case Json::parse_event_t::key:
      if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && problem.empty()) {
        problem = fmt::format("duplicate JSON key \"{}\"", parsed.get<std::string>());
      }
      break;
    default:
      break;
    }
    return true;
  };
  const Json root = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    fail_input("JSON metadata does not parse");
  }
  if (!problem.empty()) {
    fail_input(problem);
  }

  Metadata md;
  ObjectReader r(root, "", md.unknown_fields);
  for (const auto &[id, value] : members_by_id(r.require("keyslots"), "keyslots")) {
    md.keyslots.push_back(parse_keyslot(id, *value, md.unknown_fields));
  }
  for (const auto &[id, value] : members_by_id(r.require("tokens"), "tokens")) {
    md.tokens.push_back(parse_token(id, *value));
  }
  for (const auto &[id, value] : members_by_id(r.require("segments"), "segments")) {
    md.segments.push_back(parse_segment(id, *value, md.unknown_fields));
  }
  for (const auto &[id, value] : members_by_id(r.require("digests"), "digests")) {
    md.digests.push_back(parse_digest(id, *value, md.unknown_fields));
  }
  {
    ObjectReader c(r.require("config"), "config", md.unknown_fields);
    md.config.json_size = c.u64_string("json_size");
    md.config.keyslots_size = c.u64_string("keyslots_size");
    md.config.flags = c.optional_string_array("flags");
    if (const Json *req = c.find("requirements"); req != nullptr) {
      md.config.requirements = req->dump();
    }
    c.finish();
  }
  r.finish();
  return md;
}

// ---- Header ----------------------------------------------------------------

Header
Header::parse(std::vector<std::byte> bytes) {
  Header h;
  h.m_primary = parse_binary(bytes, 0, HeaderCopy::primary);
  const std::uint64_t hdr_size = h.m_primary.hdr_size;
  h.m_secondary = parse_binary(bytes, static_cast<std::size_t>(hdr_size), HeaderCopy::secondary);
  if (h.m_secondary.hdr_size != hdr_size) {
    fail_input(
        fmt::format("secondary hdr_size {} differs from primary {}", h.m_secondary.hdr_size, hdr_size));
  }
  h.m_metadata = parse_metadata_json(h.m_primary.json);

  const auto json_area_size = static_cast<std::size_t>(hdr_size - k_binary_header_size);
  const auto primary_area = std::span<const std::byte>(bytes).subspan(k_binary_header_size, json_area_size);
  const auto secondary_area = std::span<const std::byte>(bytes).subspan(
      static_cast<std::size_t>(hdr_size) + k_binary_header_size, json_area_size);
  h.m_json_areas_identical = std::equal(primary_area.begin(), primary_area.end(), secondary_area.begin());

  const std::uint64_t keyslots_size = h.m_metadata.config.keyslots_size;
  if (keyslots_size > k_max_keyslots_size) {
    fail_input(fmt::format("config.keyslots_size {} exceeds {}", keyslots_size, k_max_keyslots_size));
  }
  const std::uint64_t region = 2 * hdr_size + keyslots_size;
  if (bytes.size() < region) {
    fail_input(fmt::format("truncated: have {} bytes, header region is {}", bytes.size(), region));
  }
  bytes.resize(static_cast<std::size_t>(region));
  h.m_bytes = std::move(bytes);
  return h;
}

Header
read_header(int fd, std::uint64_t max_region) {
  // Each byte is read once into one buffer; everything is parsed from it.
  std::vector<std::byte> buffer;
  pread_to(fd, buffer, k_binary_header_size);
  const BinaryHeader first = [&buffer] {
    // Only magic/version/hdr_size matter here; the JSON area is not read yet.
    if (!std::equal(
            k_magic_primary.begin(), k_magic_primary.end(), buffer.begin(), [](unsigned char m, std::byte b) {
              return std::byte{m} == b;
            })) {
      fail_input("primary header: bad magic");
    }
    BinaryHeader b;
    b.hdr_size = load_be(buffer, k_off_hdr_size, 8);
    return b;
  }();
  if (!valid_metadata_size(first.hdr_size)) {
    fail_input(fmt::format("primary header: invalid hdr_size {}", first.hdr_size));
  }
  if (2 * first.hdr_size > max_region) {
    fail_input(fmt::format(
        "hdr_size {} exceeds the {}-byte limit for the header region", first.hdr_size, max_region));
  }
  pread_to(fd, buffer, 2 * first.hdr_size);
  const BinaryHeader primary = parse_binary(buffer, 0, HeaderCopy::primary);
  const Metadata md = parse_metadata_json(primary.json);
  const std::uint64_t keyslots_size = md.config.keyslots_size;
  if (keyslots_size > k_max_keyslots_size || 2 * first.hdr_size + keyslots_size > max_region) {
    fail_input(fmt::format("config.keyslots_size {} exceeds the {}-byte limit for the header region",
                           keyslots_size,
                           max_region));
  }
  pread_to(fd, buffer, 2 * first.hdr_size + keyslots_size);
  return Header::parse(std::move(buffer));
}

Header
read_header(const std::filesystem::path &path, std::uint64_t max_region) {
  const fs::Fd fd(
      ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)); // NOLINT(cppcoreguidelines-pro-type-vararg)
  if (!fd) {
    throw Error(ErrorKind::io, "open {}: {}", path.string(), fs::errno_text(errno));
  }
  try {
    return read_header(fd.get(), max_region);
  } catch (const Error &e) {
    throw e.with_context(path.string());
  }
}

void
write_header_copy(const Header &header, int fd) {
  pwrite_all(fd, header.bytes(), fmt::format("fd {}", fd));
  if (::ftruncate(fd, static_cast<off_t>(header.bytes().size())) != 0 && errno != EINVAL) {
    throw Error(ErrorKind::io, "truncate LUKS2 header copy: {}", fs::errno_text(errno));
  }
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    throw Error(ErrorKind::io, "fsync LUKS2 header copy: {}", fs::errno_text(errno));
  }
}

void
write_header_copy(const Header &header, const std::filesystem::path &path) {
  // Written under a temporary name and linked into place: a reader that
  // waits for `path` (the initramfs script starts `cryptsetup open --header`
  // as soon as it exists) never sees a partial header.
  try {
    fs::AtomicFile out(path, 0600, fs::AtomicFile::NoReplace::yes);
    out.write(header.bytes());
    out.commit();
  } catch (const Error &e) {
    throw e.with_context(fmt::format("LUKS2 header copy {}", path.string()));
  }
}

// ---- volume key digest -----------------------------------------------------

bool
verify_volume_key(const Digest &digest, const SecretBytes &volume_key) {
  if (digest.type != "pbkdf2") {
    throw Error(ErrorKind::input, "LUKS2 digest {}: unsupported type \"{}\"", digest.id, digest.type);
  }
  crypto::HashAlgorithm algorithm{};
  if (digest.hash == "sha256") {
    algorithm = crypto::HashAlgorithm::sha256;
  } else if (digest.hash == "sha512") {
    algorithm = crypto::HashAlgorithm::sha512;
  } else if (digest.hash == "sha1") {
    algorithm = crypto::HashAlgorithm::sha1;
  } else {
    throw Error(ErrorKind::input, "LUKS2 digest {}: unsupported hash \"{}\"", digest.id, digest.hash);
  }
  const auto salt = base64_decode(digest.salt);
  const auto expected = base64_decode(digest.digest);
  if (!salt || !expected || expected->empty() || expected->size() > 64) {
    throw Error(ErrorKind::input, "LUKS2 digest {}: salt or digest is not valid base64", digest.id);
  }
  if (digest.iterations == 0) {
    throw Error(ErrorKind::input, "LUKS2 digest {}: zero iterations", digest.id);
  }
  // libcryptsetup derives as many bytes as the stored digest has.
  const auto computed =
      crypto::pbkdf2_hmac(algorithm, volume_key.span(), *salt, digest.iterations, expected->size());
  return constant_time_equal(computed, *expected);
}

bool
verify_volume_key(const Header &header, const SecretBytes &volume_key) {
  const auto &digests = header.metadata().digests;
  if (digests.size() != 1) {
    throw Error(ErrorKind::input, "LUKS2 header has {} digests, expected exactly 1", digests.size());
  }
  return verify_volume_key(digests.front(), volume_key);
}

} // namespace cvm::luks
