#pragma once
#include <filesystem>

namespace ltest {

// Where the kernel-side runtime (the `ltest` Python package) lives:
// $LTEST_SHARE_DIR, else ../share/ltest beside the executable (installed),
// else the source tree this binary was built from.
std::filesystem::path share_dir();

}  // namespace ltest
