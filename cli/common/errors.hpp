#pragma once
// ltest's own failures; main() maps each to its exit code.
#include <stdexcept>
#include <string>

namespace ltest {

struct ltest_error : std::runtime_error {
    ltest_error(int code, const std::string& what) : std::runtime_error(what), exit_code(code) {}
    int exit_code;
};

}  // namespace ltest
