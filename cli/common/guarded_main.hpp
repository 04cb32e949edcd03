#pragma once
// What both executables' main() share: every failure ends as one line on
// stderr and a documented exit code, never as a crash or a silent 0.
#include <functional>

namespace ltest {

int guarded_main(const std::function<int()>& body);

}  // namespace ltest
