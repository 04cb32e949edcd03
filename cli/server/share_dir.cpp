#include "share_dir.hpp"

#include <cstdlib>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {
namespace fs = std::filesystem;

static bool has_runtime(const fs::path& dir) {
    std::error_code ec;
    return fs::exists(dir / "ltest" / "__init__.py", ec);
}

fs::path share_dir() {
    if (const char* env = std::getenv("LTEST_SHARE_DIR"); env && *env) {
        if (has_runtime(env)) return env;
        throw ltest_error(exit_code::startup, std::string("LTEST_SHARE_DIR=") + env + " holds no ltest/__init__.py");
    }
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        fs::path installed = exe.parent_path().parent_path() / "share" / "ltest";
        if (has_runtime(installed)) return installed;
    }
    if (has_runtime(LTEST_SOURCE_SHARE_DIR)) return LTEST_SOURCE_SHARE_DIR;
    throw ltest_error(exit_code::startup, "cannot find ltest's Python runtime (share/ltest); set LTEST_SHARE_DIR");
}

}  // namespace ltest
