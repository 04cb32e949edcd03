#include "run_command.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

#include <sys/syscall.h>

#include <filesystem>

#include <kernel_bridge/errors.hpp>
#include <kernel_bridge/jupyter_paths.hpp>

#include "clean_text.hpp"
#include "client_connection.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "project_root.hpp"
#include "runtime_file.hpp"
#include "protocol.hpp"
#include "reply_reader.hpp"
#include "run_deadline.hpp"

extern char** environ;

namespace ltest {
using nlohmann::json;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

std::atomic<int> sigint_count{0};
void on_sigint(int) { ++sigint_count; }

// No time for the server to acknowledge a run: it is wedged or gone.
constexpr auto ack_timeout = seconds(10);

// This boot of this host: the server then knows our pid is one of its host's.
std::string host_id() {
    std::FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) return "";
    char buf[64] = {};
    std::string id = std::fgets(buf, sizeof buf, f) ? buf : "";
    std::fclose(f);
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
}

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
    spec.rlimits = protocol::read_own_limits();  // ulimit and nice as a python started here would have them
    spec.nice = protocol::read_own_nice();
    spec.client_pid = static_cast<int>(::getpid());
    spec.client_host = host_id();
    spec.stdin_isatty = ::isatty(0);
    struct stat in {};
    if (!spec.stdin_isatty && ::fstat(0, &in) == 0 && !S_ISDIR(in.st_mode)) {  // a server here passes it on as is
        off_t at = S_ISREG(in.st_mode) ? ::lseek(0, 0, SEEK_CUR) : -1;
        spec.stdin_file = std::array<std::int64_t, 3>{static_cast<std::int64_t>(in.st_dev),
                                                      static_cast<std::int64_t>(in.st_ino), static_cast<std::int64_t>(at)};
    }
    spec.stdout_isatty = ::isatty(1);
    spec.stderr_isatty = ::isatty(2);
    struct stat out {}, err {};
    spec.stderr_is_stdout = spec.stdout_isatty && spec.stderr_isatty && ::fstat(1, &out) == 0 && ::fstat(2, &err) == 0 &&
                            out.st_dev == err.st_dev && out.st_ino == err.st_ino && out.st_rdev == err.st_rdev;
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
    // (ipykernel's EOF marker) or when stdin is closed, or nullopt when the line
    // is not complete yet. After EOF, every later request gets EOF at once.
    std::optional<std::string> read_available() {
        if (eof_) return std::string("\x04");
        char buf[4096];
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return std::nullopt;
        if (n <= 0) {  // EOF, or no usable stdin (closed: EBADF; a directory: EISDIR)
            eof_ = true;
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
    // No stdin to wait for: EOF seen already, or fd 0 closed.
    bool unusable() const { return eof_ || ::fcntl(0, F_GETFD) < 0; }

private:
    std::string take(std::size_t n) {
        std::string out = buffer_.substr(0, n);
        buffer_.erase(0, n);
        return out;
    }
    std::string buffer_;
    bool eof_ = false;
};

// A password prompt (getpass) read from a terminal: echo off until the line is in.
class echo_off {
public:
    void start() {
        if (on_ || !::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
        termios quiet = saved_;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        on_ = ::tcsetattr(0, TCSAFLUSH, &quiet) == 0;
    }
    void stop() {
        if (!on_) return;
        ::tcsetattr(0, TCSAFLUSH, &saved_);
        write_all(2, "\n");  // the Enter the terminal did not echo
        on_ = false;
    }
    ~echo_off() { stop(); }

private:
    termios saved_{};
    bool on_ = false;
};

void print_notices(const std::vector<std::string>& lines) {
    for (const auto& line : lines) write_all(2, "ltest: " + line + "\n");
}

[[noreturn]] void no_answer(const server_info& server, const std::string& why) {
    throw ltest_error(exit_code::no_server, "the ltest server at " + clean_text(server.endpoint()) + " (pid " +
                                                std::to_string(server.pid) + ") " + why);
}

void catch_sigint() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
}

// One run as the client sees it: the request sent, the server's answers
// printed, Ctrl-C and --timeout turned into interrupts, the lines the run
// asks for read from stdin.
class client_run {
public:
    client_run(const options& opts, client_connection& conn) : opts_(opts), conn_(conn), deadline_{opts.timeout} {
        protocol::run_spec spec = describe_this_process(opts.pytest_args);
        spec.workers = opts.workers;
        request_ = conn_.send(protocol::run_request, json(spec));
        sent_at_ = last_keepalive_ = steady_clock::now();
    }

    // Waits for the end of the run: its exit code.
    int wait_for_exit() {
        while (true) {
            auto elapsed = steady_clock::now() - sent_at_;
            send_due_interrupts(elapsed);
            give_up_after_deadline(elapsed);
            send_keepalive_when_due();
            pollfd items[2] = {{conn_.fd(), POLLIN, 0}, {0, POLLIN, 0}};
            if (!poll_once(items)) continue;
            // A pipe at EOF reports only HUP; a closed fd 0 reports NVAL.
            if (waiting_input_ && (items[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) forward_typed_line();
            if (!(items[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                if (!acknowledged_ && steady_clock::now() - sent_at_ > ack_timeout)
                    no_answer(conn_.server(), "does not answer");
                continue;
            }
            // Everything that arrived: poll() cannot see messages already buffered.
            while (auto msg = conn_.receive(milliseconds(0)))
                if (auto code = handle(*msg)) return *code;
        }
    }

private:
    // Ctrl-C (or --timeout) becomes an interrupt request: the first one
    // interrupts pytest, the next kills the test process.
    void send_due_interrupts(steady_clock::duration elapsed) {
        int wanted = std::max(sigint_count.load(), deadline_.interrupts_due(elapsed));
        if (wanted > interrupts_sent_ && interrupts_sent_ == 0 && sigint_count == 0)
            std::fprintf(stderr, "ltest: the run exceeded --timeout %gs; interrupting it\n", opts_.timeout);
        while (interrupts_sent_ < wanted) {
            conn_.send(protocol::interrupt_request, json::object(), request_);
            ++interrupts_sent_;
        }
    }

    void give_up_after_deadline(steady_clock::duration elapsed) const {
        if (!deadline_.give_up(elapsed)) return;
        throw ltest_error(exit_code::timed_out,
                          "no answer from the server " + std::to_string(duration_cast<seconds>(elapsed).count()) +
                              " s after the run was interrupted and killed (--timeout); giving up (a stopped "
                              "kernel or server? see ltest --status)");
    }

    void send_keepalive_when_due() {
        if (steady_clock::now() - last_keepalive_ <= milliseconds(protocol::keepalive_ms)) return;
        conn_.send(protocol::keepalive, json::object(), request_);
        last_keepalive_ = steady_clock::now();
    }

    // Waits up to 100 ms on the server's socket, and on stdin while the run
    // asks for a line. False when a signal cut the wait short.
    bool poll_once(pollfd (&items)[2]) const {
        int n_items = waiting_input_ ? 2 : 1;
        if (::poll(items, static_cast<nfds_t>(n_items), 100) >= 0) return true;
        if (errno != EINTR) throw ltest_error(exit_code::internal, std::string("poll: ") + std::strerror(errno));
        return false;
    }

    void forward_typed_line() {
        auto line = input_.read_available();
        if (!line) return;
        no_echo_.stop();
        conn_.send(protocol::input_reply, json{{"value", *line}}, request_);
        waiting_input_ = false;
    }

    // The run asks for a line: its prompt printed, stdin watched from now on.
    void ask_for_input(const run_event& e) {
        if (e.password) no_echo_.start();  // before the prompt, as getpass: nothing typed after it echoes
        write_all(1, e.text);
        waiting_input_ = true;
        if (input_.unusable()) {  // /dev/null, a closed stdin, EOF already seen: EOF now, not a wait
            conn_.send(protocol::input_reply, json{{"value", "\x04"}}, request_);
            waiting_input_ = false;
        }
    }

    // One answer from the server; the run's exit code once it is over.
    std::optional<int> handle(const kernel_bridge::message& msg) {
        if (msg.parent_id() != request_.value("msg_id", "")) return std::nullopt;
        acknowledged_ = true;
        reading_.hang_suspected = interrupts_sent_ > sigint_count;
        run_event e = read_run_message(msg.msg_type(), msg.content, reading_);
        print_notices(e.notices);
        if (e.what == run_event::kind::output) write_all(e.fd, e.text);
        if (e.what == run_event::kind::input) ask_for_input(e);
        if (e.what != run_event::kind::finished) return std::nullopt;
        if (opts_.json) std::cout << msg.content.dump() << std::endl;
        return e.exit_code;
    }

    const options& opts_;
    client_connection& conn_;
    const run_deadline deadline_;
    json request_;  // the run request's header: the parent of every answer
    steady_clock::time_point sent_at_, last_keepalive_;
    bool acknowledged_ = false, waiting_input_ = false;
    int interrupts_sent_ = 0;
    run_reading reading_;
    stdin_lines input_;
    echo_off no_echo_;
};

}  // namespace

// Whether the server's process ends within `wait` (a pidfd: its socket
// closes a moment before the process is gone).
static bool server_gone(int pid, milliseconds wait) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return !process_alive(pid);
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(wait.count()));
    ::close(fd);
    return n > 0 || !process_alive(pid);
}

// A server killed mid-run (SIGKILL, the OOM killer): one line saying what
// died, where its log is, and what starts a new one.
[[noreturn]] static void server_died(const options& opts, const server_info& server) {
    std::error_code ec;
    fs::path log = kernel_bridge::jupyter_runtime_dir() / ("ltest-" + std::to_string(server.port) + ".log");
    std::string where = fs::exists(log, ec) ? "its log: " + log.string()
                                            : "its output went where it was started (no " + log.string() + ")";
    std::string next = opts.port_chosen && opts.autostart ? "the next `ltest -- ARGS` starts a new one"
                                                          : "`ltest -l -p " + std::to_string(server.port) + "` starts a new one";
    throw ltest_error(exit_code::no_server,
                      "the ltest server for " +
                          (server.project_root.empty() ? "directories without a project marker" : server.project_root) +
                          " (pid " +
                          std::to_string(server.pid) + ") died during the run, and its kernel and the run's tests with it; " +
                          where + "; " + next);
}

int run_tests(const options& opts) {
    server_info server = find_server(opts.port, opts.ip);
    client_connection conn(server);
    catch_sigint();
    try {
        client_run run(opts, conn);
        return run.wait_for_exit();
    } catch (const ltest_error& e) {
        if (e.exit_code == exit_code::no_server && server_gone(server.pid, milliseconds(2000))) server_died(opts, server);
        throw;
    }
}

}  // namespace ltest
