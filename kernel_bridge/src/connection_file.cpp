#include "kernel_bridge/connection_file.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/private_file.hpp"
#include "kernel_bridge/random.hpp"

namespace kernel_bridge {
namespace fs = std::filesystem;
using nlohmann::json;

std::string connection_info::endpoint(int port) const {
    if (transport == "ipc") return "ipc://" + ip + "-" + std::to_string(port);
    return transport + "://" + ip + ":" + std::to_string(port);
}

void to_json(json& j, const connection_info& c) {
    j = json{{"transport", c.transport},       {"ip", c.ip},
             {"shell_port", c.shell_port},     {"iopub_port", c.iopub_port},
             {"stdin_port", c.stdin_port},     {"control_port", c.control_port},
             {"hb_port", c.hb_port},           {"key", c.key},
             {"signature_scheme", c.signature_scheme}, {"kernel_name", c.kernel_name}};
}

template <class T>
static T optional_key(const json& j, const char* key, T fallback) {
    if (!j.contains(key)) return fallback;
    try {
        return j.at(key).get<T>();
    } catch (const json::exception&) {
        throw bad_file(std::string("connection file key \"") + key + "\" has the wrong type");
    }
}

template <class T>
static T required(const json& j, const char* key) {
    if (!j.contains(key)) throw bad_file(std::string("connection file has no \"") + key + "\"");
    try {
        return j.at(key).get<T>();
    } catch (const json::exception&) {
        throw bad_file(std::string("connection file key \"") + key + "\" has the wrong type");
    }
}

void from_json(const json& j, connection_info& c) {
    if (!j.is_object()) throw bad_file("connection file is not a JSON object");
    c.transport = optional_key<std::string>(j, "transport", "tcp");
    c.ip = required<std::string>(j, "ip");
    c.shell_port = required<int>(j, "shell_port");
    c.iopub_port = required<int>(j, "iopub_port");
    c.stdin_port = required<int>(j, "stdin_port");
    c.control_port = required<int>(j, "control_port");
    c.hb_port = required<int>(j, "hb_port");
    c.key = required<std::string>(j, "key");
    c.signature_scheme = optional_key<std::string>(j, "signature_scheme", "hmac-sha256");
    c.kernel_name = optional_key<std::string>(j, "kernel_name", "");
}

int pick_free_port(const std::string& ip) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw bridge_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
        ::close(fd);
        throw bridge_error("not an IPv4 address: " + ip);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int e = errno;
        ::close(fd);
        throw bridge_error("cannot bind to " + ip + ": " + std::strerror(e));
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string random_key() { return random_hex(32); }

connection_info new_connection_info(const std::string& ip, const std::string& kernel_name) {
    connection_info c;
    c.ip = ip;
    c.kernel_name = kernel_name;
    c.key = random_key();
    // Distinct ports: a port picked twice in a row by the OS would collide.
    std::vector<int> ports;
    while (ports.size() < 5) {
        int p = pick_free_port(ip);
        if (std::find(ports.begin(), ports.end(), p) == ports.end()) ports.push_back(p);
    }
    c.shell_port = ports[0];
    c.iopub_port = ports[1];
    c.stdin_port = ports[2];
    c.control_port = ports[3];
    c.hb_port = ports[4];
    return c;
}

connection_info read_connection_file(const fs::path& path) {
    // Owner-only, not a symlink: a connection file planted by another user would point us at their kernel.
    std::string text = read_private_file(path);
    try {
        return json::parse(text).get<connection_info>();
    } catch (const json::parse_error& e) {
        throw bad_file("connection file " + path.string() + " is not JSON: " + e.what());
    } catch (const bad_file& e) {
        throw bad_file(path.string() + ": " + e.what());
    }
}

void write_connection_file(const fs::path& path, const connection_info& info) {
    write_private_file(path, json(info).dump(1) + "\n");
}

fs::path find_connection_file(const std::string& name_or_path, const fs::path& runtime_dir) {
    if (!name_or_path.empty()) {
        if (fs::exists(name_or_path)) return fs::absolute(name_or_path);
        if (fs::exists(runtime_dir / name_or_path)) return runtime_dir / name_or_path;
    }
    // No name, or a fragment: the newest kernel-*.json (containing the fragment).
    fs::path best;
    fs::file_time_type best_time{};
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(runtime_dir, ec)) {
        std::string fname = entry.path().filename().string();
        if (fname.rfind("kernel-", 0) != 0 || entry.path().extension() != ".json") continue;
        if (!name_or_path.empty() && fname.find(name_or_path) == std::string::npos) continue;
        auto t = entry.last_write_time(ec);
        if (best.empty() || t > best_time) {
            best = entry.path();
            best_time = t;
        }
    }
    if (best.empty())
        throw bad_file(name_or_path.empty()
                           ? "no kernel connection file (kernel-*.json) in " + runtime_dir.string()
                           : "no connection file matching '" + name_or_path + "' in " + runtime_dir.string());
    return best;
}

}  // namespace kernel_bridge
