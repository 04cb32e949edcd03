#pragma once
// Starting a server for a run that found none: ltest-server in
// the background (its own session, stdio to ltest-<port>.log in the runtime
// dir, cwd the project root), waited for until it answers a status request,
// then announced on one stderr line.
#include <filesystem>
#include <string>

#include <optional>

#include "options.hpp"
#include "python_choice.hpp"

namespace ltest {

// ltest-server beside this executable.
std::string server_executable(const char* argv0);

// Starts the server for `root` ("": the one shared by directories without a
// project marker) on a free port, on the chosen interpreter (or o.kernel),
// waits until it is ready, says so on one line naming the interpreter, and
// returns its port. Throws ltest_error with one line (the log's last line
// and its path) when it exits first, ltest_error(no_server) when it is not
// ready in time.
int start_server_for(const options& o, const std::string& root, const std::optional<python_choice>& python);

}  // namespace ltest
