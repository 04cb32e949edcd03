#include "protocol.hpp"

#include <limits>
#include <stdexcept>
#include <type_traits>

#include <kernel_bridge/wire.hpp>

#include "byte_text.hpp"

namespace ltest::protocol {
using nlohmann::json;

std::string connect_password(const std::string& signature_scheme, const std::string& key) {
    return kernel_bridge::wire(signature_scheme, key).sign("ltest-connect", "", "", "");
}

// argv, cwd and environment are bytes, sent as text (byte_text.hpp).
static json args_text(const std::vector<std::string>& args) {
    json out = json::array();
    for (const auto& a : args) out.push_back(bytes_to_text(a));
    return out;
}

static json env_text(const std::map<std::string, std::string>& env) {
    json out = json::object();
    for (const auto& [name, value] : env) out[bytes_to_text(name)] = bytes_to_text(value);
    return out;
}

static std::string bytes_of(const std::string& text, const char* field) {
    try {
        return text_to_bytes(text);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("run_request field \"") + field + "\": " + e.what());
    }
}

void to_json(json& j, const run_spec& r) {
    j = json{{"args", args_text(r.args)},
             {"cwd", bytes_to_text(r.cwd)},
             {"env", env_text(r.env)},
             {"stdin_isatty", r.stdin_isatty},
             {"stdout_isatty", r.stdout_isatty},
             {"stderr_isatty", r.stderr_isatty},
             {"stderr_is_stdout", r.stderr_is_stdout},
             {"columns", r.columns},
             {"lines", r.lines},
             {"workers", r.workers}};
    if (r.umask >= 0) j["umask"] = r.umask;
    if (!r.rlimits.empty()) j["rlimits"] = limits_to_json(r.rlimits);
    if (r.nice) j["nice"] = *r.nice;
    if (r.client_pid > 0) j["client_pid"] = r.client_pid;
    if (!r.client_host.empty()) j["client_host"] = r.client_host;
    if (r.stdin_file) j["stdin_file"] = json{{"dev", (*r.stdin_file)[0]}, {"ino", (*r.stdin_file)[1]}, {"offset", (*r.stdin_file)[2]}};
}

template <class T>
static void field(const json& j, const char* key, T& out, bool required) {
    auto it = j.find(key);
    if (it == j.end()) {
        if (required) throw std::invalid_argument(std::string("run_request has no \"") + key + "\"");
        return;
    }
    // get<int>() would accept 80.5 or 1e100 (and convert with undefined behaviour).
    if constexpr (std::is_same_v<T, int>) {
        if (!it->is_number_integer() || *it < std::numeric_limits<int>::min() || *it > std::numeric_limits<int>::max())
            throw std::invalid_argument(std::string("run_request field \"") + key + "\" must be an integer");
    }
    if constexpr (std::is_same_v<T, std::int64_t>) {
        if (!it->is_number_integer())
            throw std::invalid_argument(std::string("run_request field \"") + key + "\" must be an integer");
    }
    try {
        out = it->get<T>();
    } catch (const json::exception&) {
        throw std::invalid_argument(std::string("run_request field \"") + key + "\" has the wrong type");
    }
}

void from_json(const json& j, run_spec& r) {
    if (!j.is_object()) throw std::invalid_argument("run_request content is not an object");
    field(j, "args", r.args, true);
    field(j, "cwd", r.cwd, true);
    std::map<std::string, std::string> env;
    field(j, "env", env, true);
    for (auto& a : r.args) a = bytes_of(a, "args");
    r.cwd = bytes_of(r.cwd, "cwd");
    r.env.clear();
    for (const auto& [name, value] : env) r.env[bytes_of(name, "env")] = bytes_of(value, "env");
    field(j, "stdin_isatty", r.stdin_isatty, false);
    field(j, "stdout_isatty", r.stdout_isatty, false);
    field(j, "stderr_isatty", r.stderr_isatty, false);
    field(j, "stderr_is_stdout", r.stderr_is_stdout, false);
    field(j, "columns", r.columns, false);
    field(j, "lines", r.lines, false);
    field(j, "workers", r.workers, false);
    field(j, "umask", r.umask, false);
    field(j, "client_pid", r.client_pid, false);
    field(j, "client_host", r.client_host, false);
    if (auto it = j.find("rlimits"); it != j.end()) r.rlimits = limits_from_json(*it);  // resource_limits.cpp
    if (auto it = j.find("nice"); it != j.end()) r.nice = nice_from_json(*it);
    if (auto it = j.find("stdin_file"); it != j.end()) {
        if (!it->is_object()) throw std::invalid_argument("run_request \"stdin_file\" must be an object");
        std::array<std::int64_t, 3> f{0, 0, -1};
        field(*it, "dev", f[0], true);
        field(*it, "ino", f[1], true);
        field(*it, "offset", f[2], false);
        r.stdin_file = f;
    }
    if (r.umask > 0777) throw std::invalid_argument("run_request \"umask\" must be at most 0777");
    if (r.workers < 0) throw std::invalid_argument("run_request \"workers\" must be >= 0");
    if (r.cwd.empty() || r.cwd[0] != '/') throw std::invalid_argument("run_request \"cwd\" must be an absolute path");
}

}  // namespace ltest::protocol
