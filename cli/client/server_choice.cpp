#include "server_choice.hpp"

#include <kernel_bridge/jupyter_paths.hpp>

#include "autostart.hpp"
#include "project_root.hpp"
#include "runtime_file.hpp"
#include "start_lock.hpp"

namespace ltest {
namespace fs = std::filesystem;

std::optional<int> project_server_port(const fs::path& root, const std::string& kernel) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(kernel_bridge::jupyter_runtime_dir(), ec)) {
        std::string name = e.path().filename().string();
        if (name.rfind("ltest-", 0) != 0 || e.path().extension() != ".json") continue;
        auto s = read_runtime_file(e.path());
        if (s && s->project_root == root.string() && s->kernel_name == kernel && process_alive(s->pid)) return s->port;
    }
    return std::nullopt;
}

void choose_server(options& o, bool may_start) {
    if (o.port) return;
    fs::path root = project_root(fs::current_path());
    if (auto port = project_server_port(root, o.kernel)) {
        o.port = port;
        return;
    }
    if (!may_start || !o.autostart) return;
    // Concurrent first runs: the first starts the server, the others wait here
    // and then find it.
    start_lock lock(start_lock_path(root.string(), o.kernel));
    if (auto port = project_server_port(root, o.kernel)) {
        o.port = port;
        return;
    }
    o.port = start_server_for(o, root);
}

}  // namespace ltest
