#pragma once
// Jupyter connection files, read and written as jupyter_client does.
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kernel_bridge {

struct connection_info {
    std::string transport = "tcp";
    std::string ip = "127.0.0.1";
    int shell_port = 0;
    int iopub_port = 0;
    int stdin_port = 0;
    int control_port = 0;
    int hb_port = 0;
    std::string key;
    std::string signature_scheme = "hmac-sha256";
    std::string kernel_name;

    // "tcp://127.0.0.1:5555" for one of the ports above.
    std::string endpoint(int port) const;
};

void to_json(nlohmann::json& j, const connection_info& c);
// Throws bad_file naming the missing or mistyped key.
void from_json(const nlohmann::json& j, connection_info& c);

// A port on ip that was free a moment ago (bound to port 0, then released).
int pick_free_port(const std::string& ip);
// 32 random bytes from the OS as lowercase hex, like jupyter_client's uuid4 keys but stronger.
std::string random_key();
// Fresh ports and key for a kernel we are about to launch.
connection_info new_connection_info(const std::string& ip, const std::string& kernel_name);

connection_info read_connection_file(const std::filesystem::path& path);
// Writes owner-only (0600) and atomically (rename), creating parent dirs (0700).
void write_connection_file(const std::filesystem::path& path, const connection_info& info);

// For `--existing [NAME]`: a path, a file name in the runtime dir, or a glob-like
// fragment ("1234" matches kernel-1234.json); empty = the most recently modified
// kernel-*.json in the runtime dir, as `jupyter console --existing` picks it.
std::filesystem::path find_connection_file(const std::string& name_or_path,
                                           const std::filesystem::path& runtime_dir);

}  // namespace kernel_bridge
