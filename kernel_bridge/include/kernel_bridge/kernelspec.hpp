#pragma once
// Kernelspec discovery and parsing, as jupyter_client.kernelspec does.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kernel_bridge {

struct kernelspec {
    std::string name;
    std::filesystem::path resource_dir;
    std::vector<std::string> argv;
    std::string display_name;
    std::string language;
    std::map<std::string, std::string> env;
    std::string interrupt_mode = "signal";  // or "message"

    // argv with {connection_file} and {resource_dir} substituted.
    std::vector<std::string> command(const std::filesystem::path& connection_file) const;
};

kernelspec read_kernelspec(const std::string& name, const std::filesystem::path& dir);

// Looks for <dir>/kernels/<name>/kernel.json in each of dirs, first match wins.
// Throws no_such_kernel naming every directory searched.
kernelspec find_kernelspec(const std::string& name, const std::vector<std::filesystem::path>& dirs);

}  // namespace kernel_bridge
