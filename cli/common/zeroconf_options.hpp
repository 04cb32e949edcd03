#pragma once
// The flags and [tool.ltest] keys of zero configuration: a server
// started when none runs (--no-start, autostart), an idle server stopping
// (--idle, idle), watch mode (--watch), learned preloads (--forget, exclude).
#include <CLI/CLI.hpp>

#include "config.hpp"
#include "options.hpp"

namespace ltest {

// An auto-started server stops after this long without a run or a client,
// unless --idle or [tool.ltest] idle says otherwise.
inline constexpr double default_autostart_idle_seconds = 30 * 60;

void add_zeroconf_options(CLI::App& app, options& o);
// [tool.ltest] fills in what the command line left unset.
void apply_zeroconf_config(options& o, const CLI::App& app, const project_config& config);
// Throws ltest_error(usage) for combinations that make no sense.
void check_zeroconf_options(const options& o);

}  // namespace ltest
