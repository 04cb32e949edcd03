#pragma once
// Component-prefixed logs on stderr: [server], [kernel].
// Level: -q warn, default info, -v debug; LTEST_LOG=debug|info|warn overrides.
#include <memory>

#include <spdlog/spdlog.h>

namespace ltest::log {

void setup(int verbosity);
spdlog::logger& server();
spdlog::logger& kernel();

}  // namespace ltest::log
