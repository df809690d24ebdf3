// SPDX-License-Identifier: Apache-2.0
#include "cmd/app.hpp"

namespace cvm::cli {

App
make_app() {
  App app;
  app.cli = std::make_unique<CLI::App>(
      "cvmforge: turn a stock qcow2 into a LUKS2-encrypted Intel TDX confidential-VM image that\n"
      "unlocks only after remote attestation, and compute its TDX reference values.",
      "cvmforge");
  app.global = std::make_unique<GlobalOptions>();
  app.action = std::make_shared<Action>();
  CLI::App &cli = *app.cli;
  cli.require_subcommand(0, 1);
  cli.fallthrough();
  cli.footer("Exit codes: 0 ok, 1 failure, 2 usage or manifest error, 3 unusable input file,\n"
             "4 output or key exists (use --force), 5 measurement mismatch, 70 internal error,\n"
             "130 interrupted. See README.md.");
  cli.add_flag("--json", app.global->json, "Machine-readable result on stdout (logs stay on stderr)");
  cli.add_flag("-v,--verbose", app.global->verbose, "More log output (-vv: trace)");
  cli.add_flag("-q,--quiet", app.global->quiet, "Only errors on stderr");
  cli.set_version_flag("--version", CVM_VERSION);

  register_build(cli, *app.global, app.action);
  register_plan(cli, *app.global, app.action);
  register_validate(cli, *app.global, app.action);
  register_measure(cli, *app.global, app.action);
  register_inspect(cli, *app.global, app.action);
  register_version(cli, *app.global, app.action);
  return app;
}

} // namespace cvm::cli
