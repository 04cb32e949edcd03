#include "runtime_file.hpp"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <vector>

#include <kernel_bridge/jupyter_paths.hpp>
#include <kernel_bridge/private_file.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "options.hpp"

namespace ltest {
namespace fs = std::filesystem;
using nlohmann::json;

void to_json(json& j, const server_info& s) {
    j = json{{"ip", s.ip},   {"port", s.port}, {"key", s.key}, {"signature_scheme", s.signature_scheme},
             {"pid", s.pid}, {"kernel_connection_file", s.kernel_connection_file}, {"version", s.version}};
    if (!s.project_root.empty()) j["project_root"] = s.project_root;  // issue 15: optional fields
    if (!s.kernel_name.empty()) j["kernel_name"] = s.kernel_name;
}

void from_json(const json& j, server_info& s) {
    s.ip = j.at("ip").get<std::string>();
    s.port = j.at("port").get<int>();
    s.key = j.at("key").get<std::string>();
    s.signature_scheme = j.value("signature_scheme", std::string("hmac-sha256"));
    s.pid = j.at("pid").get<int>();
    s.kernel_connection_file = j.value("kernel_connection_file", std::string());
    s.version = j.value("version", std::string());
    s.project_root = j.value("project_root", std::string());
    s.kernel_name = j.value("kernel_name", std::string());
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

std::optional<server_info> read_runtime_file(const fs::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        return json::parse(in).get<server_info>();
    } catch (const json::exception&) {
        return std::nullopt;
    }
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
            if (auto s = read_runtime_file(e.path()); s && process_alive(s->pid)) live.push_back(*s);
        }
        if (live.size() == 1) return live.front();
        port = default_port;
    }
    fs::path path = runtime_file_path(*port);
    auto s = read_runtime_file(path);
    if (!s || !process_alive(s->pid))
        throw ltest_error(exit_code::no_server,
                          "no ltest server on " + ip + ":" + std::to_string(*port) + "; " + start_hint(*port));
    return *s;
}

}  // namespace ltest
