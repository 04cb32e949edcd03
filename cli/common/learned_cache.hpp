#pragma once
// Where learned preloads are kept: $XDG_CACHE_HOME/ltest/, else
// ~/.cache/ltest/, one file per project root and interpreter, written by the
// runtime (share/ltest/ltest/learned.py), which names it.
#include <filesystem>

namespace ltest {

std::filesystem::path learned_cache_dir();

}  // namespace ltest
