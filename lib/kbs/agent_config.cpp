// SPDX-License-Identifier: Apache-2.0
#include "lib/kbs/agent_config.hpp"

#include "lib/util/error.hpp"
#include "lib/util/fs.hpp"

#include <algorithm>
#include <initializer_list>

namespace cvm::kbs {

namespace {

using Json = nlohmann::json;

[[noreturn]] void
bad(std::string_view where, std::string_view what) {
  throw Error(ErrorKind::usage, "agent config: {}: {}", where, what);
}

void
only_members(const Json &object, std::string_view where, std::initializer_list<std::string_view> allowed) {
  if (!object.is_object()) {
    bad(where, "must be an object");
  }
  for (const auto &item : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      bad(where, fmt::format("unknown member \"{}\"", item.key()));
    }
  }
}

std::string
string_member(const Json &object, const char *name, std::string_view where) {
  const auto &value = object.at(name);
  if (!value.is_string() || value.get_ref<const std::string &>().empty()) {
    bad(fmt::format("{}.{}", where, name), "must be a non-empty string");
  }
  return value.get<std::string>();
}

std::uint64_t
number_member(const Json &object,
              const char *name,
              std::string_view where,
              std::uint64_t min,
              std::uint64_t max,
              std::uint64_t fallback) {
  const auto it = object.find(name);
  if (it == object.end()) {
    return fallback;
  }
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    bad(fmt::format("{}.{}", where, name), "must be a non-negative integer");
  }
  const auto v = it->get<std::uint64_t>();
  if (v < min || v > max) {
    bad(fmt::format("{}.{}", where, name), fmt::format("must be in [{}, {}]", min, max));
  }
  return v;
}

std::filesystem::path
absolute_member(const Json &object, const char *name, std::string_view where) {
  std::filesystem::path p = string_member(object, name, where);
  if (!p.is_absolute()) {
    bad(fmt::format("{}.{}", where, name), "must be an absolute path");
  }
  return p;
}

std::vector<VolumeTarget>
parse_volumes(const Json &array, const AgentConfig &config) {
  if (!array.is_array() || array.size() > 16) {
    bad("volumes", "must be an array of at most 16 volumes");
  }
  std::vector<VolumeTarget> volumes;
  for (std::size_t i = 0; i < array.size(); ++i) {
    const Json &item = array[i];
    const std::string where = fmt::format("volumes[{}]", i);
    only_members(item,
                 where,
                 {"name",
                  "resource",
                  "device",
                  "mapper_name",
                  "header_policy",
                  "header_copy",
                  "required",
                  "key_size",
                  "mount_unit"});
    for (const char *member : {"name", "resource", "device", "mapper_name", "header_policy", "header_copy"}) {
      if (!item.contains(member)) {
        bad(where, fmt::format("missing \"{}\"", member));
      }
    }
    VolumeTarget v;
    v.name = string_member(item, "name", where);
    try {
      v.resource = ResourcePath::parse(string_member(item, "resource", where));
    } catch (const Error &e) {
      bad(where + ".resource", e.what());
    }
    v.device = string_member(item, "device", where);
    v.mapper_name = string_member(item, "mapper_name", where);
    if (v.mapper_name.find('/') != std::string::npos) {
      bad(where + ".mapper_name", "must not contain '/'");
    }
    v.header_policy = absolute_member(item, "header_policy", where);
    v.header_copy = absolute_member(item, "header_copy", where);
    if (const auto r = item.find("required"); r != item.end()) {
      if (!r->is_boolean()) {
        bad(where + ".required", "must be true or false");
      }
      v.required = r->get<bool>();
    }
    v.key_size = number_member(item, "key_size", where, 0, 4096, 64);
    if (item.contains("mount_unit")) {
      v.mount_unit = string_member(item, "mount_unit", where);
      if (!v.mount_unit.ends_with(".mount") || v.mount_unit.find('/') != std::string::npos ||
          v.mount_unit.size() > 255) {
        bad(where + ".mount_unit", "must be a systemd mount unit name (no '/', ending in .mount)");
      }
    }
    const auto clash = [&](const VolumeTarget &other) {
      return other.mapper_name == v.mapper_name || other.header_copy == v.header_copy ||
             other.resource.str() == v.resource.str();
    };
    if (std::any_of(volumes.begin(), volumes.end(), clash) ||
        (config.luks && (config.luks->name == v.mapper_name || config.luks->header_copy == v.header_copy)) ||
        config.resource.str() == v.resource.str()) {
      bad(where,
          "its mapper name, header copy and resource must differ from the root's and the other volumes'");
    }
    volumes.push_back(std::move(v));
  }
  return volumes;
}

} // namespace

AgentConfig
parse_agent_config(std::string_view json_text) {
  const Json root = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  only_members(root,
               "top level",
               {"kbs_urls",
                "ca_cert",
                "resource",
                "tee",
                "key_size",
                "timeouts",
                "retries",
                "luks",
                "volumes",
                "test"});
  AgentConfig config;

  const auto urls = root.find("kbs_urls");
  if (urls == root.end() || !urls->is_array() || urls->empty() || urls->size() > 8) {
    bad("kbs_urls", "must be an array of 1 to 8 URLs");
  }
  for (const auto &url : *urls) {
    if (!url.is_string() || url.get_ref<const std::string &>().empty()) {
      bad("kbs_urls", "entries must be non-empty strings");
    }
    config.kbs_urls.push_back(url.get<std::string>());
  }
  if (root.contains("ca_cert")) {
    config.ca_cert = string_member(root, "ca_cert", "top level");
  }
  if (!root.contains("resource")) {
    bad("resource", "missing");
  }
  try {
    config.resource = ResourcePath::parse(string_member(root, "resource", "top level"));
  } catch (const Error &e) {
    bad("resource", e.what());
  }
  if (root.contains("tee")) {
    config.tee = string_member(root, "tee", "top level");
    if (config.tee != "tdx" && config.tee != "sample") {
      bad("tee", R"x(must be "tdx" (or "sample" in the test flavour))x");
    }
  }
  config.key_size = number_member(root, "key_size", "top level", 0, 4096, 64);

  if (const auto t = root.find("timeouts"); t != root.end()) {
    only_members(*t, "timeouts", {"connect_ms", "io_ms"});
    config.http.connect_timeout =
        std::chrono::milliseconds(number_member(*t, "connect_ms", "timeouts", 100, 600000, 5000));
    config.http.io_timeout =
        std::chrono::milliseconds(number_member(*t, "io_ms", "timeouts", 100, 600000, 15000));
  }
  if (const auto r = root.find("retries"); r != root.end()) {
    only_members(*r, "retries", {"attempts", "initial_backoff_ms", "max_backoff_ms"});
    config.retry.attempts = static_cast<unsigned>(number_member(*r, "attempts", "retries", 1, 100, 5));
    config.retry.initial_backoff =
        std::chrono::milliseconds(number_member(*r, "initial_backoff_ms", "retries", 0, 600000, 1000));
    config.retry.max_backoff =
        std::chrono::milliseconds(number_member(*r, "max_backoff_ms", "retries", 0, 600000, 16000));
  }
  if (const auto l = root.find("luks"); l != root.end()) {
    only_members(*l, "luks", {"device", "name", "header_policy", "header_copy"});
    LuksTarget luks;
    if (!l->contains("device") || !l->contains("name")) {
      bad("luks", R"(needs "device" and "name")");
    }
    luks.device = string_member(*l, "device", "luks");
    luks.name = string_member(*l, "name", "luks");
    if (l->contains("header_policy")) {
      luks.header_policy = string_member(*l, "header_policy", "luks");
    }
    if (l->contains("header_copy")) {
      luks.header_copy = string_member(*l, "header_copy", "luks");
      if (!luks.header_copy.is_absolute()) {
        bad("luks.header_copy", "must be an absolute path");
      }
    }
    config.luks = std::move(luks);
  }
  if (const auto v = root.find("volumes"); v != root.end()) {
    config.volumes = parse_volumes(*v, config);
  }
  if (const auto t = root.find("test"); t != root.end()) {
    only_members(*t, "test", {"tsm_report_root", "ccel", "measurements", "cmdline"});
    config.has_test_section = true;
    if (t->contains("tsm_report_root")) {
      config.test_tsm_report_root = string_member(*t, "tsm_report_root", "test");
    }
    if (t->contains("ccel")) {
      config.test_ccel = string_member(*t, "ccel", "test");
    }
    if (t->contains("measurements")) {
      config.test_measurements = string_member(*t, "measurements", "test");
    }
    if (t->contains("cmdline")) {
      config.test_cmdline = string_member(*t, "cmdline", "test");
    }
  }

  const bool any_https = std::any_of(config.kbs_urls.begin(),
                                     config.kbs_urls.end(),
                                     [](const std::string &u) { return u.rfind("https://", 0) == 0; });
  if (any_https && !config.ca_cert) {
    bad("ca_cert", "required for https KBS URLs (the system trust store is never used)");
  }
  config.http.ca_file = config.ca_cert;
  return config;
}

std::string
agent_config_json(const AgentConfig &config) {
  nlohmann::ordered_json j;
  j["kbs_urls"] = config.kbs_urls;
  if (config.ca_cert) {
    j["ca_cert"] = config.ca_cert->string();
  }
  j["resource"] = config.resource.str();
  j["tee"] = config.tee;
  j["key_size"] = config.key_size;
  j["timeouts"] = {{"connect_ms", config.http.connect_timeout.count()},
                   {"io_ms", config.http.io_timeout.count()}};
  j["retries"] = {{"attempts", config.retry.attempts},
                  {"initial_backoff_ms", config.retry.initial_backoff.count()},
                  {"max_backoff_ms", config.retry.max_backoff.count()}};
  if (config.luks) {
    auto &luks = j["luks"];
    luks["device"] = config.luks->device;
    luks["name"] = config.luks->name;
    if (config.luks->header_policy) {
      luks["header_policy"] = config.luks->header_policy->string();
    }
    luks["header_copy"] = config.luks->header_copy.string();
  }
  if (!config.volumes.empty()) {
    auto &volumes = j["volumes"] = nlohmann::ordered_json::array();
    for (const VolumeTarget &v : config.volumes) {
      volumes.push_back({{"name", v.name},
                         {"resource", v.resource.str()},
                         {"device", v.device},
                         {"mapper_name", v.mapper_name},
                         {"header_policy", v.header_policy.string()},
                         {"header_copy", v.header_copy.string()},
                         {"required", v.required},
                         {"key_size", v.key_size}});
      if (!v.mount_unit.empty()) {
        volumes.back()["mount_unit"] = v.mount_unit;
      }
    }
  }
  if (config.has_test_section) {
    auto &test = j["test"] = nlohmann::ordered_json::object();
    const auto put = [&test](const char *name, const std::optional<std::filesystem::path> &value) {
      if (value) {
        test[name] = value->string();
      }
    };
    put("tsm_report_root", config.test_tsm_report_root);
    put("ccel", config.test_ccel);
    put("measurements", config.test_measurements);
    put("cmdline", config.test_cmdline);
  }
  return j.dump(2) + "\n";
}

AgentConfig
load_agent_config(const std::filesystem::path &path) {
  try {
    return parse_agent_config(fs::read_text(path, std::size_t{64} << 10U));
  } catch (const Error &e) {
    if (e.kind() == ErrorKind::usage) {
      throw;
    }
    throw Error(ErrorKind::usage, "agent config {}: {}", path.string(), e.what());
  }
}

} // namespace cvm::kbs
