// SPDX-License-Identifier: Apache-2.0
// cvmforge-agent: runs in the initramfs of a TD, proves the TD's identity to
// a Trustee KBS and hands the released disk key to cryptsetup through a pipe.
// Data volumes' keys come from the same attested session; the agent opens
// those volumes itself, so their keys never leave it.
// Every failure ends with one line on stderr and a non-zero exit; the
// initramfs script then powers the VM off.
#include "cmd/agent/flavour.hpp"
#include "cmd/agent/header_check.hpp"
#include "cmd/agent/key_output.hpp"
#include "cmd/agent/volumes.hpp"
#include "lib/kbs/agent_config.hpp"
#include "lib/kbs/client.hpp"
#include "lib/kbs/http.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/core.h>

#include <sys/prctl.h>
#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view k_program = "cvmforge-agent";

struct Options {
  std::string config;
  std::optional<int> key_fd;
  std::optional<std::string> key_fifo;
  int verbosity = 0; // -1 quiet, 0 default (warnings), 1 info, 2 debug
};

constexpr std::string_view k_usage =
    "usage: cvmforge-agent --config FILE (--key-fd N | --key-stdout | --key-fifo PATH) [-v|-vv|-q]\n"
    "\n"
    "Attests this TD to the KBS named in FILE and writes the released key to a pipe:\n"
    "  --key-fd N        an inherited pipe/socket descriptor (closed afterwards)\n"
    "  --key-stdout      standard output, which must be a pipe (cryptsetup --key-file=-)\n"
    "  --key-fifo PATH   an existing FIFO\n"
    "  -v, -vv           progress / debug messages on stderr (never key material)\n"
    "  -q                errors only\n"
    "Exit status: 0 key written, 1 failure, 2 usage or configuration error.\n";

[[noreturn]] void
usage_error(std::string_view message) {
  throw cvm::Error(cvm::ErrorKind::usage, "{} (see --help)", message);
}

std::optional<Options>
parse_args(int argc, char **argv) {
  Options options;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  unsigned outputs = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) {
        usage_error(fmt::format("{} needs a value", arg));
      }
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", k_usage);
      return std::nullopt;
    }
    if (arg == "--version") {
      fmt::print("{} {} ({} flavour)\n", k_program, CVM_VERSION, cvm::agent::flavour_name());
      return std::nullopt;
    }
    if (arg == "--config") {
      options.config = std::string(value());
    } else if (arg == "--key-fd") {
      const std::string_view text = value();
      int fd = -1;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
      if (ec != std::errc{} || ptr != text.data() + text.size() || fd < 0) {
        usage_error("--key-fd needs a descriptor number");
      }
      options.key_fd = fd;
      ++outputs;
    } else if (arg == "--key-stdout") {
      options.key_fd = 1;
      ++outputs;
    } else if (arg == "--key-fifo") {
      options.key_fifo = std::string(value());
      ++outputs;
    } else if (arg == "-v" || arg == "--verbose") {
      options.verbosity = std::max(options.verbosity, 0) + 1;
    } else if (arg == "-vv") {
      options.verbosity = 2;
    } else if (arg == "-q" || arg == "--quiet") {
      options.verbosity = -1;
    } else {
      usage_error(fmt::format("unknown argument '{}'", arg));
    }
  }
  if (options.config.empty()) {
    usage_error("--config is required");
  }
  if (outputs != 1) {
    usage_error("exactly one of --key-fd, --key-stdout, --key-fifo is required");
  }
  return options;
}

void
harden_process() {
  // No core dumps and no ptrace by same-uid processes: the key is in memory.
  const rlimit no_core{0, 0};
  (void)::setrlimit(RLIMIT_CORE, &no_core);
  (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // A reader that goes away must give EPIPE, not kill us silently.
  (void)std::signal(SIGPIPE, SIG_IGN);
}

int
run(int argc, char **argv) {
  const auto options = parse_args(argc, argv);
  if (!options) {
    return 0;
  }
  using cvm::log::Level;
  cvm::log::set_level(options->verbosity < 0    ? Level::error
                      : options->verbosity == 0 ? Level::warning
                      : options->verbosity == 1 ? Level::info
                                                : Level::debug);
  harden_process();
  // Refuse a bad key destination before talking to anyone.
  if (options->key_fifo) {
    cvm::agent::check_key_fifo(*options->key_fifo);
  } else {
    cvm::agent::check_key_fd(*options->key_fd);
  }

  const cvm::kbs::AgentConfig config = cvm::kbs::load_agent_config(options->config);
  // Reject disallowed URLs (e.g. http:// in production) before anything else.
  for (const std::string &url : config.kbs_urls) {
    (void)cvm::kbs::make_http_transport(url, config.http);
  }
  auto evidence = cvm::agent::make_evidence_provider(config);
  evidence->preflight();
  // The disk's LUKS2 header is host-controlled: check it against the measured
  // policy and keep the checked copy for `cryptsetup open --header` BEFORE
  // asking for the key, so a swapped or weakened header never gets one.
  if (config.luks && config.luks->header_policy) {
    cvm::agent::check_and_copy_header(*config.luks);
    cvm::agent::fault_point(config, "header-checked");
  } else {
    // Only the test flavour gets here (the production one refuses above).
    cvm::log::warning("no luks.header_policy configured: the LUKS2 header is not checked");
  }

  // Data volumes: each header checked and copied before any key is asked for.
  // The root's device has appeared by now (the initramfs script waited for
  // it), so udev has had its time; a volume's disk gets a few more seconds.
  const std::vector<const cvm::kbs::VolumeTarget *> volumes =
      cvm::agent::prepare_volumes(config.volumes, std::chrono::seconds(15));

  cvm::kbs::FetchOptions fetch;
  fetch.urls = config.kbs_urls;
  fetch.resource = config.resource;
  fetch.retry = config.retry;
  for (const cvm::kbs::VolumeTarget *volume : volumes) {
    fetch.more.push_back({volume->resource, volume->required});
  }
  const cvm::kbs::TransportFactory transports = [&config](const std::string &url) {
    return cvm::kbs::make_http_transport(url, config.http);
  };

  cvm::kbs::FetchResult released = cvm::kbs::fetch_resources(fetch, *evidence, transports);
  const cvm::SecretBytes &key = released.primary;
  if (config.key_size != 0 && key.size() != config.key_size) {
    throw cvm::Error(cvm::ErrorKind::input,
                     "KBS resource {} has {} bytes, expected {}",
                     config.resource.str(),
                     key.size(),
                     config.key_size);
  }
  cvm::agent::fault_point(config, "key-received");
  // Before the key leaves this process: later quotes must not match the one
  // that obtained it, or code in the root filesystem could attest as the
  // initramfs and ask again. A register that exists but does not extend is an
  // error, so the VM powers off without the key.
  if (evidence->close_release_window()) {
    cvm::log::info("RTMR3 extended with the release marker: later quotes of this TD differ");
  } else if (evidence->tee() == "tdx") {
    cvm::log::warning("RTMR3 cannot be extended here (needs Linux >= 6.16): later quotes of this boot "
                      "match the one that released the key");
  }
  // Volumes first: a required one that cannot be opened stops the boot
  // before the root is unlocked.
  if (!volumes.empty()) {
    const std::size_t opened = cvm::agent::open_volumes(volumes, released.more);
    released.more.clear(); // wipes the volume keys
    cvm::log::info("{} of {} data volume(s) opened", opened, config.volumes.size());
  }
  if (options->key_fifo) {
    cvm::agent::write_key_to_fifo(*options->key_fifo, key);
  } else {
    cvm::agent::write_key_to_fd(*options->key_fd, key);
  }
  cvm::log::info("key handed over ({} bytes)", key.size());
  return 0;
}

} // namespace

int
main(int argc, char **argv) {
  cvm::log::set_sink([](cvm::log::Level level, std::string_view message) {
    static constexpr std::string_view k_names[] = {"error", "warning", "info", "debug", "trace"};
    fmt::print(stderr, "{}: {}: {}\n", k_program, k_names[static_cast<int>(level)], message);
    (void)std::fflush(stderr);
  });
  try {
    return run(argc, argv);
  } catch (const cvm::Error &e) {
    cvm::log::error("{}", e.what());
    return e.kind() == cvm::ErrorKind::usage ? 2 : 1;
  } catch (const std::exception &e) {
    cvm::log::error("internal error: {}", e.what());
    return 1;
  }
}
