#include "learned_preloads.hpp"

#include <filesystem>

#include "byte_text.hpp"
#include "project_root.hpp"

namespace ltest {

nlohmann::json learned_preload_settings(const options& o) {
    if (o.existing || !o.gateway.empty()) return nullptr;  // the kernel's host has its own files
    // The root's bytes as text (byte_text.hpp); learned.py decodes them.
    return {{"project_root", bytes_to_text(server_root(std::filesystem::current_path()))}, {"exclude", o.exclude}};
}

}  // namespace ltest
