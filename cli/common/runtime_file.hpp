#pragma once
// The server's runtime file, ltest-<port>.json in the Jupyter runtime dir
// (mode 0600): address, signing key and pid. Holding the key is what lets a
// client run anything, so only the owner can read it.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ip_address.hpp"

namespace ltest {

struct server_info {
    std::string ip;
    int port = 0;
    std::string key;
    std::string signature_scheme = "hmac-sha256";
    int pid = 0;
    std::string kernel_connection_file;
    std::string version;
    // Issue 15: which project (server_root: "" for directories without a marker) and kernelspec ("": none) it serves.
    std::string project_root;
    std::string kernel_name;
    // Issue 26: the interpreter the kernel runs on when no kernelspec was
    // named, and (chosen from PATH) the python3s before it that had no pytest.
    std::string python;
    std::vector<std::string> python_skipped;
    // Issue 30: the server process's start time (/proc/PID/stat, clock ticks
    // after boot; 0 unknown), so a reused pid is not taken for the server
    // (stale_server_files.hpp).
    unsigned long long start_time = 0;

    std::string endpoint() const { return tcp_endpoint(ip, port); }
};

void to_json(nlohmann::json& j, const server_info& s);
void from_json(const nlohmann::json& j, server_info& s);

std::filesystem::path runtime_file_path(int port);
void write_runtime_file(const server_info& info);
// Which server a client talks to: the one on `port` if given; else the only
// live one in the runtime dir; else the default port. Throws
// ltest_error(no_server) saying how to start one.
server_info find_server(std::optional<int> port, const std::string& ip);
bool process_alive(int pid);
// The runtime file at path, or nullopt when it is missing or not one (server_choice.cpp).
// One not owned by this user, readable by others, or a symlink is refused:
// `problem` says why. Absent or refused: nullopt.
std::optional<server_info> read_runtime_file(const std::filesystem::path& path, std::string& problem);
std::optional<server_info> read_runtime_file(const std::filesystem::path& path);

}  // namespace ltest
