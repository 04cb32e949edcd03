#pragma once
// `ltest -l`: one event loop serving clients on a ROUTER socket, running each
// run request as one silent execute request in the warm kernel.
#include "options.hpp"

namespace ltest {

// Returns the process exit code (0 after SIGINT/SIGTERM or a shutdown request).
int run_server(const options& opts);

}  // namespace ltest
