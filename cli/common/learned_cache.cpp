#include "learned_cache.hpp"

#include <cstdlib>

namespace ltest {

std::filesystem::path learned_cache_dir() {
    // The XDG base directory rule: a relative XDG_CACHE_HOME is ignored.
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') return std::filesystem::path(xdg) / "ltest";
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home && *home ? home : "/") / ".cache" / "ltest";
}

}  // namespace ltest
