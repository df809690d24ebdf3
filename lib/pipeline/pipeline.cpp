// SPDX-License-Identifier: Apache-2.0
#include "lib/host/accel.hpp"
#include "lib/pipeline/build.hpp"
#include "lib/pipeline/context.hpp"
#include "lib/pipeline/interrupt.hpp"
#include "lib/pipeline/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>

namespace cvm::pipeline {

namespace {

using StageFn = void (*)(BuildContext &);

// Stage names (their order lives in lib/plan) to implementations.
const std::map<std::string, StageFn, std::less<>> &
stage_table() {
  static const std::map<std::string, StageFn, std::less<>> k_table{
      {"check-inputs", stages::check_inputs},
      {"inspect-base", stages::inspect_base},
      {"prepare-key", stages::prepare_key},
      {"create-output", stages::create_output},
      {"format-luks", stages::format_luks},
      {"copy-esp", stages::copy_esp},
      {"copy-root", stages::copy_root},
      {"inject-files", stages::inject_files},
      {"inject-agent", stages::inject_agent},
      {"configure-boot", stages::configure_boot},
      {"rebuild-initramfs", stages::rebuild_initramfs},
      {"make-uki", stages::make_uki},
      {"extract-boot-artifacts", stages::extract_boot_artifacts},
      {"close-image", stages::close_image},
      {"measure", stages::measure},
      {"commit", stages::commit},
  };
  return k_table;
}

double
seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

BuildResult
run_build(const plan::BuildPlan &plan, const BuildOptions &options) {
  const auto &m = plan.manifest;
  BuildContext ctx(m, options);
  InterruptGuard interrupts;
  const auto t_build = std::chrono::steady_clock::now();
  nlohmann::ordered_json stage_report = nlohmann::ordered_json::array();
  ctx.report["cvmforge_version"] = CVM_VERSION;
  ctx.report["manifest"] = m.manifest_path.string();
  ctx.report["name"] = m.name;
  ctx.report["accel"] = host::accel_name();

  std::string current;
  // Whatever ends the build early -- cvm::Error, another exception -- the
  // appliance is stopped and the partial image removed (unless --keep-failed).
  struct FailureCleanup {
    BuildContext &ctx;
    const BuildOptions &options;
    bool done = false;
    FailureCleanup(BuildContext &c, const BuildOptions &o)
      : ctx(c)
      , options(o) {}
    FailureCleanup(const FailureCleanup &) = delete;
    FailureCleanup &operator=(const FailureCleanup &) = delete;
    FailureCleanup(FailureCleanup &&) = delete;
    FailureCleanup &operator=(FailureCleanup &&) = delete;
    ~FailureCleanup() {
      if (done) {
        return;
      }
      ctx.guest.reset(); // kills the appliance if still running
      if (options.keep_failed == KeepFailed::yes) {
        if (ctx.work) {
          ctx.work->keep();
        }
        if (!ctx.output_tmp.empty() && std::filesystem::exists(ctx.output_tmp)) {
          log::warning("kept the partial image {} (--keep-failed)", ctx.output_tmp.string());
        }
      } else if (!ctx.output_tmp.empty()) {
        std::error_code ec;
        std::filesystem::remove(ctx.output_tmp, ec);
      }
    }
  } cleanup(ctx, options);
  try {
    const std::size_t n = plan.stages.size();
    for (std::size_t i = 0; i < n; ++i) {
      const auto &s = plan.stages[i];
      current = s.name;
      throw_if_interrupted();
      if (s.skip_reason) {
        log::info("[{}/{}] {}: skipped ({})", i + 1, n, s.name, *s.skip_reason);
        ctx.emit({{"event", "stage"}, {"stage", s.name}, {"status", "skipped"}, {"reason", *s.skip_reason}});
        stage_report.push_back({{"name", s.name}, {"status", "skipped"}, {"reason", *s.skip_reason}});
        continue;
      }
      const auto it = stage_table().find(s.name);
      if (it == stage_table().end()) {
        throw Error(ErrorKind::internal, "plan names unknown stage '{}'", s.name);
      }
      log::info("[{}/{}] {}", i + 1, n, s.heading);
      ctx.emit({{"event", "stage"}, {"stage", s.name}, {"status", "started"}});
      const auto t0 = std::chrono::steady_clock::now();
      if (s.name == "commit") {
        // The report the commit stage writes already lists its own timing slot.
        stage_report.push_back({{"name", s.name}, {"status", "ok"}});
        ctx.report["stages"] = stage_report;
        ctx.report["seconds"] = std::round(seconds_since(t_build) * 10.0) / 10.0;
      }
      it->second(ctx);
      const double secs = seconds_since(t0);
      log::info("      done in {:.1f} s", secs);
      ctx.emit({{"event", "stage"},
                {"stage", s.name},
                {"status", "done"},
                {"seconds", std::round(secs * 10.0) / 10.0}});
      if (s.name != "commit") {
        stage_report.push_back(
            {{"name", s.name}, {"status", "ok"}, {"seconds", std::round(secs * 10.0) / 10.0}});
      }
    }
  } catch (const Error &e) {
    const Error contextual = interrupted_by() != 0 && e.kind() != ErrorKind::interrupted
                                 ? Error(ErrorKind::interrupted, "{}: interrupted", current)
                                 : e.with_context(current);
    ctx.emit({{"event", "stage"}, {"stage", current}, {"status", "failed"}, {"error", contextual.what()}});
    throw contextual;
  }
  cleanup.done = true;

  BuildResult result;
  result.output = m.output.path;
  result.key_file = m.output.key_file;
  result.report = m.output.report;
  result.report_json = ctx.report;
  log::info("built {} in {:.0f} s", m.output.path.string(), seconds_since(t_build));
  return result;
}

} // namespace cvm::pipeline
