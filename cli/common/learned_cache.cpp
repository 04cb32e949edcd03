#include "learned_cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {

std::filesystem::path learned_cache_dir() {
    // The XDG base directory rule: a relative XDG_CACHE_HOME is ignored.
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') return std::filesystem::path(xdg) / "ltest";
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home && *home ? home : "/") / ".cache" / "ltest";
}

void check_cache_dir() {
    std::filesystem::path dir = learned_cache_dir();
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
    std::string fix = ": use a directory of your own (XDG_CACHE_HOME=DIR after mkdir -m 700 DIR/ltest)";
    if (st.st_uid != ::geteuid())
        throw ltest_error(exit_code::startup, "the cache directory " + dir.string() + " belongs to uid " +
                                                  std::to_string(st.st_uid) + ", not to you" + fix);
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw ltest_error(exit_code::startup, "the cache directory " + dir.string() + " is writable by others (mode " +
                                                  mode + "): chmod go-w " + dir.string() + ", or use a directory of "
                                                  "your own (XDG_CACHE_HOME=DIR after mkdir -m 700 DIR/ltest)");
    }
}

}  // namespace ltest
