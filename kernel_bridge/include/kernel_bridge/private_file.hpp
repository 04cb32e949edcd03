#pragma once
#include <filesystem>
#include <string>

namespace kernel_bridge {

// Writes text owner-only (0600) and atomically (temp file + rename), creating
// the parent directory owner-only (0700) when missing. Throws bad_file.
void write_private_file(const std::filesystem::path& path, const std::string& text);

}  // namespace kernel_bridge
