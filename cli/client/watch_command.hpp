#pragma once
// `ltest --watch -- ARGS`: run the tests, then again each time a
// file under the project root changes. See watch_command.cpp.
#include "options.hpp"

namespace ltest {

int watch_and_run(const options& o, int argc, char** argv);

}  // namespace ltest
