#include "autostart.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include <kernel_bridge/jupyter_paths.hpp>

#include "client_connection.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "protocol.hpp"
#include "runtime_file.hpp"
#include "zeroconf_options.hpp"
#include "python_choice.hpp"

namespace ltest {
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

// Long enough for slow preloads (learned ones included) on a busy machine.
constexpr auto ready_timeout = seconds(300);

// A port nothing listens on now: the kernel picks it (bind to port 0). Another
// program may take it before the server binds it; the server then fails and says so.
int free_port(const std::string& ip) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    socklen_t len = sizeof addr;
    if (fd < 0 || ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (fd >= 0) ::close(fd);
        throw ltest_error(exit_code::startup, "cannot find a free port on " + ip + ": " + std::strerror(errno));
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string idle_text(double seconds) {
    if (seconds <= 0) return "it runs until `ltest --stop`";
    char buf[64];
    if (seconds >= 60 && static_cast<long>(seconds) % 60 == 0)
        std::snprintf(buf, sizeof buf, "%ld min", static_cast<long>(seconds) / 60);
    else
        std::snprintf(buf, sizeof buf, "%g s", seconds);
    return std::string("it stops after ") + buf + " idle, or on `ltest --stop`";
}

std::string last_line(const fs::path& file) {
    std::ifstream in(file);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

// fork + exec, the child in a session of its own (no terminal: Ctrl-C in the
// shell does not reach it, closing the terminal does not hang it up).
pid_t spawn(const std::vector<std::string>& args, const fs::path& log, const fs::path& cwd) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) throw ltest_error(exit_code::startup, "cannot create " + log.string() + ": " + std::strerror(errno));
    pid_t pid = ::fork();
    if (pid == 0) {
        ::setsid();
        int null_fd = ::open("/dev/null", O_RDONLY);
        ::dup2(null_fd, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        if (::chdir(cwd.c_str()) == 0) ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(log_fd);
    if (pid < 0) throw ltest_error(exit_code::startup, std::string("cannot start a server: ") + std::strerror(errno));
    return pid;
}

// The server is ready when its runtime file names it and it answers a status request.
bool answers(int port, pid_t pid) {
    auto info = read_runtime_file(runtime_file_path(port));
    if (!info || info->pid != pid) return false;
    client_connection conn(*info);
    auto status = conn.request(protocol::status_request, protocol::status_reply, seconds(30)).content;
    // What the server could not do with the learned preloads: its log says so, and so does this client, once.
    const auto& learned = status.value("learned", nlohmann::json());
    if (learned.is_object())
        for (const auto& w : learned.value("warnings", nlohmann::json::array()))
            std::fprintf(stderr, "ltest: warning: %s\n", w.get<std::string>().c_str());
    return true;
}

// One line: what the server's log ended with, and where the log is. The
// server's own exit code when it is one of ltest's (78: the interpreter
// lacks ipykernel, say), else 78.
[[noreturn]] void report_exit(const std::string& root, int status, const fs::path& log) {
    std::string last = last_line(log);
    if (last.rfind("ltest: ", 0) == 0) last.erase(0, 7);
    if (last.empty())
        last = WIFEXITED(status) ? "it exited with code " + std::to_string(WEXITSTATUS(status))
                                 : "it was killed by signal " + std::to_string(WTERMSIG(status));
    int code = WIFEXITED(status) && WEXITSTATUS(status) >= 64 && WEXITSTATUS(status) <= 78 ? WEXITSTATUS(status)
                                                                                          : exit_code::startup;
    throw ltest_error(code, "could not start a server for " + root + ": " + last + " (log: " + log.string() + ")");
}

// Waits for readiness on events: the runtime dir (inotify) and the child's exit (a pidfd).
void wait_until_ready(int port, pid_t pid, int inotify_fd, const fs::path& log, const std::string& root) {
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    auto deadline = steady_clock::now() + ready_timeout;
    int status = 0;
    while (steady_clock::now() < deadline) {
        pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
        int wait_ms = pidfd >= 0 ? 1000 : 100;  // no pidfd (old kernel): look for the exit now and then
        if (::poll(fds, pidfd >= 0 ? 2 : 1, wait_ms) < 0 && errno != EINTR) break;
        char buf[4096];
        while (::read(inotify_fd, buf, sizeof buf) > 0) {
        }
        if (::waitpid(pid, &status, WNOHANG) == pid) report_exit(root, status, log);
        if (answers(port, pid)) {
            if (pidfd >= 0) ::close(pidfd);
            return;
        }
    }
    throw ltest_error(exit_code::no_server, "the server ltest started for " + root + " (pid " + std::to_string(pid) +
                                                ") was not ready in " + std::to_string(ready_timeout.count()) +
                                                " s (log: " + log.string() + ")");
}

}  // namespace

std::string server_executable(const char* argv0) {
    std::error_code ec;
    auto self = fs::read_symlink("/proc/self/exe", ec);
    return ((ec ? fs::path(argv0) : self).parent_path() / "ltest-server").string();
}

int start_server_for(const options& o, const std::string& root, const std::optional<python_choice>& python) {
    fs::path dir = kernel_bridge::jupyter_runtime_dir();
    int port = free_port(o.ip);
    fs::path log = dir / ("ltest-" + std::to_string(port) + ".log");
    double idle = o.idle.value_or(default_autostart_idle_seconds);
    char idle_arg[32];
    std::snprintf(idle_arg, sizeof idle_arg, "%g", idle);
    std::vector<std::string> args{server_executable("ltest"), "-l", "-i", o.ip, "-p", std::to_string(port), "--idle", idle_arg};
    // The interpreter as this client chose it; from PATH the server asks each python3 for pytest itself.
    if (!o.kernel.empty()) args.insert(args.end(), {"--kernel", o.kernel});
    if (python && python->from != python_choice::source::path) args.insert(args.end(), {"--python", python->candidates.front()});
    int inotify_fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (inotify_fd < 0 || ::inotify_add_watch(inotify_fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
        throw ltest_error(exit_code::startup, "cannot watch " + dir.string() + ": " + std::strerror(errno));
    std::string where = root.empty() ? "directories without a project marker" : root;
    // The shared server of directories without a marker runs in "/" (project_root.hpp: server_root).
    pid_t pid = spawn(args, log, root.empty() ? fs::path("/") : fs::path(root));
    bool note = ::isatty(2);  // a terminal sees that something is under way; the line is replaced below
    if (note) std::fprintf(stderr, "ltest: starting a server for %s...", where.c_str());
    auto clear_note = [&] {
        if (note) std::fputs("\r\033[K", stderr);
    };
    try {
        wait_until_ready(port, pid, inotify_fd, log, where);
    } catch (...) {
        clear_note();
        ::close(inotify_fd);
        throw;
    }
    ::close(inotify_fd);
    clear_note();
    auto info = read_runtime_file(runtime_file_path(port));
    std::string kernel = info && !info->python.empty() ? "python " + info->python : "kernel " + o.kernel;
    std::fprintf(stderr, "ltest: started a server for %s (%s) on %s:%d, log %s; %s\n", where.c_str(), kernel.c_str(),
                 o.ip.c_str(), port, log.c_str(), idle_text(idle).c_str());
    return port;
}

}  // namespace ltest
