#pragma once
// What an auto-started server leaves in the runtime dir besides its runtime
// file: its log, ltest-<port>.log (its stdout), and the start lock
// of its project. A server that stops cleanly removes both; one that fails
// keeps its log for the user to read.
#include "options.hpp"

namespace ltest {

void remove_autostart_files(const options& o);

}  // namespace ltest
