#pragma once
// The server's side of share/ltest/ltest/in_kernel/handover.py: a Unix socket
// in the runtime directory (owner-only) that the kernel connects to once;
// each run's request and its test process's fds go over it (SCM_RIGHTS), and
// the kernel's event loop takes the run from there, with no execute request.
// The kernel writes back each run it took (or could not) and how each test
// process it reaped ended, and what it learned from the runs and holds.
//
// Only the server's own kernel is taken: the kernel checks that the socket's
// listener is this server (SO_PEERCRED: its pid and uid, handover.py), and
// its first message must be {"hello": TOKEN}, the token the server gave it in
// attach_server (over the kernel's signed Jupyter channel). Any other
// connection (another process of the user that connects, sends junk, or just
// holds on) is closed and logged, and never replaces the kernel's.
#include <array>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ltest {

struct reaped_process {
    int pid = 0;
    int exit_code = 0;
};

// The kernel took a run: its result (pid, whether it had a spare), or why it
// could not start it.
struct taken_run {
    std::string id;
    nlohmann::json result = nlohmann::json::object();
    std::optional<std::string> error;
};

struct kernel_reports {
    std::vector<taken_run> taken;
    std::vector<reaped_process> reaped;
    // The newest {"learned", "preloaded", "watch"} the kernel sent: what the
    // runs taught it, and what it imported of that while idle (learn_idle.py).
    std::optional<nlohmann::json> learned;
};

class handover_socket {
public:
    // A socket at path, for the kernel that says `token`; nothing is created before listen().
    handover_socket(std::filesystem::path path, std::string token);
    ~handover_socket();
    handover_socket(const handover_socket&) = delete;
    handover_socket& operator=(const handover_socket&) = delete;

    // Listens at path (replacing a stale socket file). Throws ltest_error. Called
    // once the server holds its port: a second server on a taken port never gets here.
    void listen();
    const std::filesystem::path& path() const { return path_; }
    const std::string& token() const { return token_; }
    int listen_fd() const { return listen_fd_; }
    int kernel_fd() const { return kernel_fd_; }  // -1 until a kernel connected
    bool connected() const { return kernel_fd_ >= 0; }

    // A kernel connects (POLLIN on listen_fd): the newest one that says the
    // token is kept; any other peer is refused and logged.
    void accept_kernel();
    // Queues run id's request and the child's fds; sent as the socket
    // takes them (flush), the fds closed here once sent.
    void send_run(const std::string& id, const std::string& request_json, std::array<int, 4>& child_fds);
    bool wants_write() const { return !outgoing_.empty(); }
    void flush();
    // What the kernel wrote (POLLIN on kernel_fd); closes a dead connection.
    kernel_reports read_reports();

private:
    struct packet {
        std::string bytes;
        std::vector<int> fds;
    };
    void drop_kernel();

    bool is_our_kernel(int fd);

    std::filesystem::path path_;
    std::string token_;
    int listen_fd_ = -1;
    int kernel_fd_ = -1;
    std::deque<packet> outgoing_;
};

}  // namespace ltest
