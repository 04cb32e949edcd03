#include "server_choice.hpp"

#include <kernel_bridge/jupyter_paths.hpp>

#include "autostart.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "project_root.hpp"
#include "python_choice.hpp"
#include "runtime_file.hpp"
#include "stale_server_files.hpp"
#include "start_lock.hpp"

namespace ltest {
namespace fs = std::filesystem;

namespace {

std::vector<server_info> live_servers() {
    std::vector<server_info> live;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(kernel_bridge::jupyter_runtime_dir(), ec)) {
        std::string name = e.path().filename().string();
        if (name.rfind("ltest-", 0) != 0 || e.path().extension() != ".json") continue;
        auto s = read_runtime_file(e.path());
        if (s && is_that_server(*s)) live.push_back(*s);
    }
    return live;
}

// The server a run of this project and kernelspec or interpreter choice belongs to.
std::optional<int> matching_port(const std::vector<server_info>& live, const std::string& root, const options& o,
                                 const std::optional<python_choice>& python) {
    if (!python) {
        for (const auto& s : live)
            if (s.project_root == root && s.kernel_name == o.kernel) return s.port;
        return std::nullopt;
    }
    const auto& c = python->candidates;
    for (std::size_t i = 0; i < c.size(); ++i)
        for (const auto& s : live) {
            if (s.project_root != root || !s.kernel_name.empty() || s.python != c[i]) continue;
            // From PATH: the server's start skipped exactly the python3s before this one (no pytest there).
            if (python->from != python_choice::source::path ||
                s.python_skipped == std::vector<std::string>(c.begin(), c.begin() + static_cast<long>(i)))
                return s.port;
        }
    // A server attached to a running kernel (ltest -l --existing: a notebook's)
    // names no interpreter: its project's runs go there, as they always did.
    for (const auto& s : live)
        if (s.project_root == root && s.kernel_name.empty() && s.python.empty()) return s.port;
    return std::nullopt;
}

[[noreturn]] void no_project_server(const options& o, const std::string& root, std::size_t others) {
    std::string text = "no ltest server for this project (" + root_text(root, fs::current_path()) + ")";
    if (others > 1) text += " among the " + std::to_string(others) + " running (-p PORT picks one)";
    if (o.status || o.stop)
        text += "; `ltest -- ARGS` starts one";
    else if (!o.autostart)
        text += "; `ltest -l` there starts one (" +
                std::string(o.config_file.empty() ? "--no-start" : "--no-start, or autostart = false in " + o.config_file) +
                ")";
    throw ltest_error(exit_code::no_server, text);
}

}  // namespace

void choose_server(options& o, bool may_start) {
    remove_stale_server_files();  // the one place a client does (stale_server_files.hpp)
    if (o.port) return;
    std::error_code ec;
    fs::path cwd = fs::current_path(ec);
    // The project is found from here: with no current directory there is none.
    if (ec)
        throw ltest_error(exit_code::usage,
                          "cannot read the current directory (deleted?): cd to the project, or name its server with -p PORT");
    std::string root = server_root(cwd);
    // A kernelspec names its interpreter; else the rule (path and file checks only).
    std::optional<python_choice> python;
    if (o.kernel.empty()) try {
            python = choose_python(o, project_root(cwd));
        } catch (const ltest_error&) {
            if (may_start && o.autostart) throw;
            python = python_choice{};  // --status, --stop: no interpreter matches; the fallback below still may
        }
    auto live = live_servers();
    o.port_chosen = true;
    if (auto port = matching_port(live, root, o, python)) {
        o.port = port;
        return;
    }
    if (!may_start || !o.autostart) {
        // --status, --stop and --no-start runs: the only server of this user, if one alone runs.
        if (live.size() == 1) {
            o.port = live.front().port;
            return;
        }
        no_project_server(o, root, live.size());
    }
    // Concurrent first runs: the first starts the server, the others wait here
    // and then find it.
    start_lock lock(start_lock_path(root, server_key(o, python)));
    if (auto port = matching_port(live_servers(), root, o, python)) {
        o.port = port;
        return;
    }
    o.port = start_server_for(o, root, python);
}

}  // namespace ltest
