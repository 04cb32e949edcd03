#include "run_command.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

#include <kernel_bridge/errors.hpp>

#include "client_connection.hpp"
#include "echo_off.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "protocol.hpp"

extern char** environ;

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

namespace {

std::atomic<int> sigint_count{0};
void on_sigint(int) { ++sigint_count; }

// No time for the server to acknowledge a run: it is wedged or gone.
constexpr auto ack_timeout = seconds(10);
// After --timeout, how long the tests get to stop after Ctrl-C before being killed.
constexpr auto kill_grace = seconds(5);

protocol::run_spec describe_this_process(const std::vector<std::string>& args) {
    protocol::run_spec spec;
    spec.args = args;
    char buf[4096];
    if (::getcwd(buf, sizeof buf) == nullptr)
        throw ltest_error(exit_code::usage, "cannot read the current directory (deleted?)");
    spec.cwd = buf;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) spec.env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    mode_t mask = ::umask(0);  // reading the umask means setting it: put it back
    ::umask(mask);
    spec.umask = static_cast<int>(mask);
    spec.stdin_isatty = ::isatty(0);
    spec.stdout_isatty = ::isatty(1);
    spec.stderr_isatty = ::isatty(2);
    winsize ws{};
    for (int fd : {1, 2, 0})
        if (::isatty(fd) && ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
            spec.columns = ws.ws_col;
            spec.lines = ws.ws_row;
            break;
        }
    return spec;
}

void write_all(int fd, const std::string& text) {
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // a closed pipe (| head): keep draining so the run still ends
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

// Lines typed by the user, read only while the run waits for input.
class stdin_lines {
public:
    // Reads what is available; returns a full line (without "\n"), "\x04" at EOF
    // (ipykernel's EOF marker), or nullopt when the line is not complete yet.
    std::optional<std::string> read_available() {
        char buf[4096];
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0) return std::nullopt;
        if (n == 0) {
            if (buffer_.empty()) return std::string("\x04");
            return take(buffer_.size());
        }
        buffer_.append(buf, static_cast<std::size_t>(n));
        auto nl = buffer_.find('\n');
        if (nl == std::string::npos) return std::nullopt;
        std::string line = take(nl + 1);
        line.pop_back();
        return line;
    }

private:
    std::string take(std::size_t n) {
        std::string out = buffer_.substr(0, n);
        buffer_.erase(0, n);
        return out;
    }
    std::string buffer_;
};

}  // namespace

int run_tests(const options& opts) {
    server_info server = find_server(opts.port, opts.ip);
    client_connection conn(server);

    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    protocol::run_spec spec = describe_this_process(opts.pytest_args);
    spec.workers = opts.workers;
    json request = conn.send(protocol::run_request, json(spec));
    auto sent_at = steady_clock::now();
    bool acknowledged = false, waiting_input = false, told_busy = false;
    int interrupts_sent = 0;
    std::optional<echo_off> password_typing;  // a getpass() prompt: no echo until the line is in
    stdin_lines input;
    auto last_keepalive = steady_clock::now();

    // One answer from the server; the run's exit code once it is over.
    auto handle = [&](const kernel_bridge::message& msg) -> std::optional<int> {
        if (msg.parent_id() != request.value("msg_id", "")) return std::nullopt;
        acknowledged = true;
        const std::string type = msg.msg_type();
        const json& c = msg.content;
        if (type == protocol::stream) {
            write_all(c.value("name", "stdout") == "stderr" ? 2 : 1, c.value("text", ""));
        } else if (type == protocol::run_status) {
            std::string state = c.value("state", "");
            if (state == "queued" && !told_busy) {
                std::fprintf(stderr, "ltest: the kernel is busy (%d run(s) ahead); waiting\n", c.value("ahead", 1));
                told_busy = true;
            } else if (state == "kernel_busy") {
                std::fprintf(stderr, "ltest: the kernel is busy with another request (a notebook cell?); waiting\n");
            } else if (state == "restarting") {
                std::fprintf(stderr, "ltest: %s; restarting the kernel\n", c.value("reason", std::string("stale preload")).c_str());
            } else if (state == "restarted") {
                std::fprintf(stderr, "ltest: kernel restarted and preloaded in %.2f s\n", c.value("seconds", 0.0));
            }
        } else if (type == protocol::input_request) {
            if (c.value("password", false)) password_typing.emplace(0);  // before the prompt, as getpass
            write_all(1, c.value("prompt", ""));
            waiting_input = true;
        } else if (type == protocol::run_reply) {
            if (c.value("status", "") != "ok" || c.contains("error"))
                std::fprintf(stderr, "ltest: %s\n", c.value("error", std::string("the run failed")).c_str());
            if (interrupts_sent > sigint_count && c.contains("fork_unsafe"))
                std::fprintf(stderr, "ltest: likely cause of the hang: %s\n", c["fork_unsafe"].dump().c_str());
            if (opts.json) std::cout << c.dump() << std::endl;
            return c.value("exit_code", exit_code::protocol);
        }
        return std::nullopt;
    };

    while (true) {
        // Ctrl-C (or --timeout) becomes an interrupt request: the first one
        // interrupts pytest, the next kills the test process.
        int wanted = sigint_count.load();
        if (opts.timeout > 0) {
            auto over = steady_clock::now() - sent_at - duration<double>(opts.timeout);
            if (over > duration<double>(0) && wanted < 1) {
                if (interrupts_sent == 0)
                    std::fprintf(stderr, "ltest: the run exceeded --timeout %gs; interrupting it\n", opts.timeout);
                wanted = 1;
            }
            if (over > kill_grace) wanted = std::max(wanted, 2);
        }
        while (interrupts_sent < wanted) {
            conn.send(protocol::interrupt_request, json::object(), request);
            ++interrupts_sent;
        }
        if (steady_clock::now() - last_keepalive > milliseconds(protocol::keepalive_ms)) {
            conn.send(protocol::keepalive, json::object(), request);
            last_keepalive = steady_clock::now();
        }

        pollfd items[2] = {{conn.fd(), POLLIN, 0}, {0, POLLIN, 0}};
        int n_items = waiting_input ? 2 : 1;
        if (::poll(items, static_cast<nfds_t>(n_items), 100) < 0) {
            if (errno != EINTR) throw ltest_error(exit_code::internal, std::string("poll: ") + std::strerror(errno));
            continue;
        }
        if (waiting_input && (items[1].revents & (POLLIN | POLLHUP | POLLERR))) {  // a pipe at EOF reports only HUP
            if (auto line = input.read_available()) {
                conn.send(protocol::input_reply, json{{"value", *line}}, request);
                waiting_input = false;
                password_typing.reset();
            }
        }
        if (!(items[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (!acknowledged && steady_clock::now() - sent_at > ack_timeout)
                throw ltest_error(exit_code::no_server, "the ltest server at " + server.endpoint() + " (pid " +
                                                            std::to_string(server.pid) + ") does not answer");
            continue;
        }
        // Everything that arrived: poll() cannot see messages already buffered.
        while (auto msg = conn.receive(milliseconds(0))) {
            if (auto code = handle(*msg)) return *code;
        }
    }
}

}  // namespace ltest
