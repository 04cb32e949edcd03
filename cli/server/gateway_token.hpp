#pragma once
// The Enterprise Gateway's auth token, from the environment or a private
// file; never a flag, and never written to a log or --status.
#include <string>

#include <optional>

#include "options.hpp"
#include "warm_kernel.hpp"

namespace ltest {

// LTEST_GATEWAY_TOKEN, else JUPYTER_GATEWAY_AUTH_TOKEN (jupyter_server's own
// name for it), else [tool.ltest] gateway_token_file (owner-only, checked as
// the runtime files are: private_file.hpp); "" when none is set (a gateway
// without auth). A token file that is not private is ltest_error(startup).
std::string gateway_token(const options& o);

// --gateway's kernel settings (nullopt without one), the token included.
std::optional<gateway_kernel_settings> gateway_settings(const options& o);

}  // namespace ltest
