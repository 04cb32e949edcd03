#include "runtime_file.hpp"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <thread>
#include <vector>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/jupyter_paths.hpp>
#include <kernel_bridge/private_file.hpp>

#include "byte_text.hpp"
#include "clean_text.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "options.hpp"
#include "port_probe.hpp"

namespace ltest {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono;

// Paths are bytes, written as text (byte_text.hpp): a project in a directory
// whose name is not UTF-8 has a runtime file like any other.
static json paths_text(const std::vector<std::string>& paths) {
    json out = json::array();
    for (const auto& p : paths) out.push_back(bytes_to_text(p));
    return out;
}

void to_json(json& j, const server_info& s) {
    j = json{{"ip", s.ip},   {"port", s.port}, {"key", s.key}, {"signature_scheme", s.signature_scheme},
             {"pid", s.pid}, {"kernel_connection_file", bytes_to_text(s.kernel_connection_file)}, {"version", s.version}};
    if (!s.project_root.empty()) j["project_root"] = bytes_to_text(s.project_root);  // optional fields
    if (!s.kernel_name.empty()) j["kernel_name"] = s.kernel_name;
    if (!s.python.empty()) j["python"] = bytes_to_text(s.python);
    if (!s.python_skipped.empty()) j["python_skipped"] = paths_text(s.python_skipped);
    if (s.start_time != 0) j["start_time"] = s.start_time;
}

void from_json(const json& j, server_info& s) {
    s.ip = j.at("ip").get<std::string>();
    s.port = j.at("port").get<int>();
    s.key = j.at("key").get<std::string>();
    s.signature_scheme = j.value("signature_scheme", std::string("hmac-sha256"));
    s.pid = j.at("pid").get<int>();
    s.kernel_connection_file = text_to_bytes(j.value("kernel_connection_file", std::string()));
    s.version = j.value("version", std::string());
    s.project_root = text_to_bytes(j.value("project_root", std::string()));
    s.kernel_name = j.value("kernel_name", std::string());
    s.python = text_to_bytes(j.value("python", std::string()));
    s.python_skipped = j.value("python_skipped", std::vector<std::string>());
    for (auto& p : s.python_skipped) p = text_to_bytes(p);
    s.start_time = j.value("start_time", 0ull);
}

fs::path runtime_file_path(int port) {
    return kernel_bridge::jupyter_runtime_dir() / ("ltest-" + std::to_string(port) + ".json");
}

void write_runtime_file(const server_info& info) {
    kernel_bridge::write_private_file(runtime_file_path(info.port), json(info).dump(1) + "\n");
}

bool process_alive(int pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
    // An exited process its parent has not reaped yet is a zombie: not alive.
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    return close == std::string::npos || close + 2 >= text.size() || text[close + 2] != 'Z';
}

// A runtime file is a credential and an address: one not owned by this
// user, readable by others, or a symlink is refused (someone else could have
// planted it to be sent this client's environment). Absent: nullopt.
// Refused: `problem` says why, nullopt.
std::optional<server_info> read_runtime_file(const fs::path& path, std::string& problem) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(path, ec))) return std::nullopt;
    std::string text;
    try {
        text = kernel_bridge::read_private_file(path);
    } catch (const kernel_bridge::bad_file& e) {
        problem = e.what();
        return std::nullopt;
    }
    try {
        return json::parse(text).get<server_info>();
    } catch (const json::exception&) {
        return std::nullopt;
    } catch (const std::invalid_argument&) {  // a path's escape that escapes no byte (byte_text.hpp)
        return std::nullopt;
    }
}

std::optional<server_info> read_runtime_file(const fs::path& path) {
    std::string problem;  // a refused file is as good as none here
    return read_runtime_file(path, problem);
}

// A killed server (SIGKILL) leaves its runtime file, and its kernel (which
// died with it) the connection file and log named after the server's pid.
// The runtime file is ours (read_runtime_file checked it) and its pid is gone:
// they are removed. True if the runtime file was.
static bool remove_stale_files(const server_info& s, const fs::path& file) {
    std::error_code ec;
    fs::path dir = file.parent_path();
    fs::remove(dir / ("kernel-ltest-" + std::to_string(s.pid) + ".json"), ec);
    fs::remove(dir / ("ltest-kernel-" + std::to_string(s.pid) + ".log"), ec);
    return fs::remove(file, ec);
}

static std::string start_hint(int port) {
    return "start one with: ltest -l -m MODULE" + (port == default_port ? std::string() : " -p " + std::to_string(port));
}

server_info find_server(std::optional<int> port, const std::string& ip) {
    if (!port) {
        // No port given: the only live server of this user, if exactly one runs.
        std::vector<server_info> live;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(kernel_bridge::jupyter_runtime_dir(), ec)) {
            std::string name = e.path().filename().string();
            if (name.rfind("ltest-", 0) != 0 || e.path().extension() != ".json") continue;
            std::string problem;
            if (auto s = read_runtime_file(e.path(), problem); s && process_alive(s->pid)) live.push_back(*s);
            if (!problem.empty()) std::cerr << "ltest: " << clean_text(problem) << " (ignored)\n";
        }
        if (live.size() == 1) return live.front();
        port = default_port;
    }
    fs::path path = runtime_file_path(*port);
    std::string problem;
    auto s = read_runtime_file(path, problem);
    if (!s && problem.empty() && port_answers(ip, *port, milliseconds(500))) {
        // The port answers without a runtime file: a server rewrites a removed one
        // within a second (runtime_file_keeper.hpp); give it that second, then say so.
        for (auto until = steady_clock::now() + milliseconds(1500); !s && problem.empty() && steady_clock::now() < until;) {
            std::this_thread::sleep_for(milliseconds(50));
            s = read_runtime_file(path, problem);
        }
        if (!s && problem.empty())
            throw ltest_error(exit_code::no_server,
                              "something answers on " + ip + ":" + std::to_string(*port) + " but its runtime file " +
                                  path.string() + " is missing (another JUPYTER_RUNTIME_DIR? a server that cannot "
                                  "write it: see its log)");
    }
    if (!problem.empty()) throw ltest_error(exit_code::no_server, problem);
    std::string left;
    if (s && !process_alive(s->pid) && remove_stale_files(*s, path))
        left = " (removed the files left by its killed server, pid " + std::to_string(s->pid) + ")";
    if (!s || !left.empty() || !process_alive(s->pid))
        throw ltest_error(exit_code::no_server,
                          "no ltest server on " + ip + ":" + std::to_string(*port) + left + "; " + start_hint(*port));
    return *s;
}

}  // namespace ltest
