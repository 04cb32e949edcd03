#pragma once
// [tool.ltest] in the project's pyproject.toml, found upward from the cwd as
// pytest finds its rootdir. The command line overrides what it sets.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ltest {

struct project_config {
    std::filesystem::path file;
    std::optional<std::vector<std::string>> preload;
    std::optional<std::string> kernel;
    std::optional<std::string> python;  // the interpreter to serve: a path (relative to the file's directory) or a name on PATH
    std::optional<std::string> ip;
    std::optional<int> port;
    std::optional<bool> autostart;                    // start a server when none runs
    std::optional<bool> delegate;                     // plain `pytest` runs go to the warm server (ltest.delegate)
    std::optional<double> idle;                       // seconds before an idle server stops
    std::optional<std::vector<std::string>> exclude;  // learned preloads never imported
    std::optional<std::string> gateway;               // a Jupyter Enterprise Gateway's URL
    std::optional<int> gateway_kernels;               // how many kernels to ask it for
    std::optional<int> workers_per_kernel;            // -n auto over them: workers on each kernel's host
    std::optional<std::string> gateway_token_file;    // its token, in a file (relative to this one's directory)
    std::optional<std::string> gateway_sync;          // "send" or "refuse": a gateway kernel whose project tree differs
};

// The nearest pyproject.toml from `start` upward that has a [tool.ltest]
// table; nullopt when there is none. A file that does not parse, an unknown
// key or a wrong type throws ltest_error(usage) naming the file, line and key.
std::optional<project_config> find_project_config(const std::filesystem::path& start);

}  // namespace ltest
