#pragma once
// Where learned preloads are kept: $XDG_CACHE_HOME/ltest/, else
// ~/.cache/ltest/, one file per project root and interpreter, written by the
// runtime (share/ltest/ltest/learned.py), which names it.
#include <filesystem>

namespace ltest {

std::filesystem::path learned_cache_dir();

// What is learned there decides what the kernel imports: the directory is
// trusted only when it is the user's own and others cannot write it (as the
// runtime directory, ensure_private_dir). Else ltest_error(startup) with one
// line naming it and the fix. A missing or unreadable one is no error: then
// nothing is learned or read (and --status says so).
void check_cache_dir();

}  // namespace ltest
