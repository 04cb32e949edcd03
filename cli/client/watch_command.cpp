#include "watch_command.hpp"

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {

int watch_and_run(const options&, int, char**) { throw ltest_error(exit_code::usage, "--watch: not yet"); }

}  // namespace ltest
