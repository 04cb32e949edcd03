#pragma once
// Starting a server for a run that found none: ltest-server in
// the background (its own session, stdio to ltest-<port>.log in the runtime
// dir, cwd the project root), announced on one stderr line, waited for until
// it answers a status request.
#include <filesystem>
#include <string>

#include "options.hpp"

namespace ltest {

// ltest-server beside this executable.
std::string server_executable(const char* argv0);

// Starts the server for `root` on a free port, waits until it is ready and
// returns its port. Throws ltest_error(startup) with the log's last line
// when it exits first, ltest_error(no_server) when it is not ready in time.
int start_server_for(const options& o, const std::filesystem::path& root);

}  // namespace ltest
