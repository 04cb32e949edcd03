#pragma once
// The ltest protocol (client <-> server): Jupyter's signed wire format over one
// ROUTER socket. Message types and contents are documented in docs/protocol.md.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "resource_limits.hpp"

namespace ltest::protocol {

// client -> server
inline constexpr const char* run_request = "run_request";
inline constexpr const char* input_reply = "input_reply";
inline constexpr const char* interrupt_request = "interrupt_request";
inline constexpr const char* status_request = "status_request";
inline constexpr const char* shutdown_request = "shutdown_request";
inline constexpr const char* keepalive = "keepalive";  // a waiting or running client is still there
// server -> client
inline constexpr const char* stream = "stream";
inline constexpr const char* run_status = "run_status";
inline constexpr const char* input_request = "input_request";
inline constexpr const char* run_reply = "run_reply";
inline constexpr const char* status_reply = "status_reply";
inline constexpr const char* shutdown_reply = "shutdown_reply";
inline constexpr const char* error_reply = "error_reply";

// run_status states, server -> client.
namespace run_state {
inline constexpr const char* starting = "starting";        // the run goes to the kernel now
inline constexpr const char* queued = "queued";            // behind other runs (relayed runs go one at a time)
inline constexpr const char* kernel_busy = "kernel_busy";  // a notebook cell runs in the kernel: the run waits for it
inline constexpr const char* restarting = "restarting";    // a preloaded module changed: a fresh kernel first
inline constexpr const char* restarted = "restarted";
}  // namespace run_state

// A client sends keepalive this often; a run whose client was silent for
// client_lost_after is killed (the client was killed or lost its network).
inline constexpr int keepalive_ms = 1000;
inline constexpr int client_lost_after_ms = 5000;

// The largest request the server reads; larger ones are dropped unread.
inline constexpr std::int64_t max_message_bytes = 16 << 20;

// The ZeroMQ handshake: a client proves it holds the key before the server's
// libzmq reads any message from it (ZMTP's PLAIN mechanism, the server's ZAP
// handler checks the password: cli/server/connect_gate.hpp). The password is
// an HMAC of a fixed label with the key, so the key itself never travels.
inline constexpr const char* connect_username = "ltest";
std::string connect_password(const std::string& signature_scheme, const std::string& key);

struct run_spec {
    std::vector<std::string> args;
    std::string cwd;
    std::map<std::string, std::string> env;
    bool stdin_isatty = false, stdout_isatty = false, stderr_isatty = false;
    bool stderr_is_stdout = false;  // the client's stdout and stderr are one terminal
    int columns = 80, lines = 24;
    int workers = 1;  // 0 = one per CPU of the kernel's host
    int umask = -1;   // the client's; -1 = not sent
    // The client's ulimits and nice value (resource_limits.hpp); empty/nullopt = not sent.
    resource_limits rlimits;
    std::optional<int> nice;
    // Who asks: a client on this host (same boot id) is watched through its
    // pid (a stopped client is not a lost one); 0/"" = not sent.
    int client_pid = 0;
    std::string client_host;
    // The client's stdin when it is not a terminal (fstat: device, inode;
    // its offset, -1 if none): a server on its host gives the test process
    // that very file (cli/server/client_stdin.hpp). Absent: not sent.
    std::optional<std::array<std::int64_t, 3>> stdin_file;
};

void to_json(nlohmann::json& j, const run_spec& r);
// Throws std::invalid_argument naming the missing or mistyped field.
void from_json(const nlohmann::json& j, run_spec& r);

}  // namespace ltest::protocol
