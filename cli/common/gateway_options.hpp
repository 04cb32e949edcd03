#pragma once
// The flags and [tool.ltest] keys of a server whose kernels are a Jupyter
// Enterprise Gateway's: --gateway URL, --gateway-kernels K (gateway,
// gateway_kernels, gateway_token_file). The gateway's token is never a flag:
// a command line is visible to every user of the host (ps, /proc).
#include <CLI/CLI.hpp>

#include "config.hpp"
#include "options.hpp"

namespace ltest {

void add_gateway_options(CLI::App& app, options& o);
// [tool.ltest] fills in what the command line left unset.
void apply_gateway_config(options& o, const CLI::App& app, const project_config& config);
// Throws ltest_error(usage) for combinations that make no sense.
void check_gateway_options(const options& o);

}  // namespace ltest
