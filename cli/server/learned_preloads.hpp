#pragma once
// Learned preloads, the server's part: what the runtime needs to
// learn for this server's project (share/ltest/ltest/learned.py does the rest).
#include <nlohmann/json.hpp>

#include "options.hpp"

namespace ltest {

// {"project_root", "exclude"} for the runtime's preload; null for an attached
// kernel (--existing: a notebook's kernel gets nothing it did not ask for).
nlohmann::json learned_preload_settings(const options& o);

}  // namespace ltest
