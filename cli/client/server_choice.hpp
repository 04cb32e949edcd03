#pragma once
// Which server a client talks to. -p (or [tool.ltest] port) names one.
// Otherwise the live server recorded for this project root (project_root.hpp:
// server_root) and interpreter (python_choice.hpp) or kernelspec (--kernel);
// a run with none starts one (autostart.hpp) unless --no-start or
// [tool.ltest] autostart = false. --status, --stop and runs that may not start
// one take the only live server of this user when one alone runs; else exit
// 69: "no ltest server for this project (ROOT); ...".
#include <optional>
#include <string>

#include "options.hpp"
#include "python_choice.hpp"

namespace ltest {

// Sets o.port when a server for the project is found or started; throws
// ltest_error(no_server) when there is none and none may be started.
void choose_server(options& o, bool may_start);

}  // namespace ltest
