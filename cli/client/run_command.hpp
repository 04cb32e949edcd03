#pragma once
#include "options.hpp"

namespace ltest {

// `ltest [--json] [--timeout S] -- ARGS`: runs pytest ARGS on the server,
// streams its output, returns pytest's exit code.
int run_tests(const options& opts);

}  // namespace ltest
