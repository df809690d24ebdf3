// SPDX-License-Identifier: Apache-2.0
#include "lib/guestfs/session.hpp"
#include "lib/luks/cryptsetup.hpp"
#include "lib/pipeline/build.hpp"
#include "lib/pipeline/context.hpp"
#include "lib/pipeline/interrupt.hpp"
#include "lib/plan/stages.hpp"
#include "lib/util/error.hpp"
#include "lib/util/log.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <map>

namespace cvm::pipeline {

namespace {

// Each stage's run(), in the order of plan::Stages: the plan's stage index
// picks it, so the stages `plan` shows are exactly the functions run here.
using StageFn = void (*)(BuildContext &);
template<class... S>
constexpr std::array<StageFn, sizeof...(S)>
stage_functions(plan::StageList<S...> /*unused*/) {
  return {&S::run...};
}
constexpr std::array<StageFn, plan::k_stage_count> k_stage_functions = stage_functions(plan::Stages{});

double
seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

Backends
real_backends() {
  return {guestfs::make_session_launcher(), luks::make_cryptsetup_volume()};
}

BuildResult
run_build(const plan::BuildPlan &plan, const BuildOptions &options) {
  return run_build(plan, options, real_backends());
}

BuildResult
run_build(const plan::BuildPlan &plan, const BuildOptions &options, Backends backends) {
  const auto &m = plan.manifest;
  BuildContext ctx(m, options, std::move(backends));
  InterruptGuard interrupts;

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
        for (const VolumeBuild &vb : ctx.volumes) {
          if (!vb.output_tmp.empty() && std::filesystem::exists(vb.output_tmp)) {
            log::warning("kept the partial volume {} (--keep-failed)", vb.output_tmp.string());
          }
        }
      } else {
        std::error_code ec;
        if (!ctx.output_tmp.empty()) {
          std::filesystem::remove(ctx.output_tmp, ec);
        }
        for (const VolumeBuild &vb : ctx.volumes) {
          if (!vb.output_tmp.empty()) {
            std::filesystem::remove(vb.output_tmp, ec);
          }
        }
      }
    }
  } cleanup(ctx, options);
  try {
    const std::size_t n = plan.stages.size();
    for (std::size_t i = 0; i < n; ++i) {
      const auto &s = plan.stages[i];
      // A signal during a stage that still completed (its tools ran to the
      // end) stops the build here, in that stage's name.
      throw_if_interrupted();
      current = s.name;
      if (s.skip_reason) {
        log::info("[{}/{}] {}: skipped ({})", i + 1, n, s.name, *s.skip_reason);
        ctx.emit({{"event", "stage"}, {"stage", s.name}, {"status", "skipped"}, {"reason", *s.skip_reason}});
        ctx.stage_log.push_back({s.name, StageStatus::skipped, *s.skip_reason, std::nullopt});
        continue;
      }
      log::info("[{}/{}] {}", i + 1, n, s.heading);
      ctx.emit({{"event", "stage"}, {"stage", s.name}, {"status", "started"}});
      const auto t0 = std::chrono::steady_clock::now();
      ctx.stage_log.push_back({s.name, StageStatus::running, {}, std::nullopt});
      k_stage_functions.at(s.index)(ctx);
      const double secs = seconds_since(t0);
      ctx.stage_log.back().status = StageStatus::ok;
      ctx.stage_log.back().seconds = std::round(secs * 10.0) / 10.0;
      log::info("      done in {:.1f} s", secs);
      ctx.emit({{"event", "stage"},
                {"stage", s.name},
                {"status", "done"},
                {"seconds", std::round(secs * 10.0) / 10.0}});
    }
  } catch (const Error &e) {
    // A signal that made a tool fail is reported as the interruption it was.
    const bool by_signal = interrupted_by() != 0 && e.kind() != ErrorKind::interrupted;
    auto contextual = [&] {
      return by_signal ? Error(ErrorKind::interrupted, "{}: interrupted", current) : e.with_context(current);
    };
    ctx.emit({{"event", "stage"}, {"stage", current}, {"status", "failed"}, {"error", contextual().what()}});
    throw contextual();
  }
  cleanup.done = true;

  BuildResult result;
  result.output = m.output.path;
  result.key_file = m.output.key_file;
  result.report = m.output.report;
  result.report_json = ctx.report;
  log::info("built {} in {:.0f} s", m.output.path.string(), seconds_since(ctx.started));
  return result;
}

} // namespace cvm::pipeline
