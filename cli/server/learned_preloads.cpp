#include "learned_preloads.hpp"

#include <filesystem>

#include "project_root.hpp"

namespace ltest {

nlohmann::json learned_preload_settings(const options& o) {
    if (o.existing || !o.gateway.empty()) return nullptr;  // the kernel's host has its own files
    return {{"project_root", server_root(std::filesystem::current_path())}, {"exclude", o.exclude}};
}

}  // namespace ltest
