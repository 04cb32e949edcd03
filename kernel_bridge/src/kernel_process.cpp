#include "kernel_bridge/kernel_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <thread>

#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/private_file.hpp"

extern char** environ;

namespace kernel_bridge {
namespace fs = std::filesystem;
using namespace std::chrono;

long kernel_process::inherited_fd_soft_limit = -1;

namespace {

// The kernel's environment: ours, then the kernelspec's, then the caller's.
std::vector<std::string> kernel_environment(const kernelspec& spec, const std::map<std::string, std::string>& extra_env) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : extra_env) env[k] = v;
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

// execvpe's argv or envp: pointers into `strings`, null-terminated.
std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// The kernel's fd limit: the owner's as it was, if it raised its own
// (rlim_cur RLIM_INFINITY: leave the limit alone).
rlimit kernel_fd_limit() {
    rlimit limit{RLIM_INFINITY, RLIM_INFINITY};
    if (kernel_process::inherited_fd_soft_limit >= 0 && ::getrlimit(RLIMIT_NOFILE, &limit) == 0)
        limit.rlim_cur = static_cast<rlim_t>(kernel_process::inherited_fd_soft_limit);
    else
        limit.rlim_cur = RLIM_INFINITY;
    return limit;
}

// What the child gets across the fork: the log as stdout and stderr,
// /dev/null as stdin, and a close-on-exec pipe that reports an exec failure
// (EOF means exec worked).
struct child_fds {
    int log = -1, null = -1, status_read = -1, status_write = -1;
    void close_all() const {
        for (int fd : {log, null, status_read, status_write})
            if (fd >= 0) ::close(fd);
    }
};

child_fds open_child_fds(const fs::path& log_file) {
    child_fds fds;
    // Created anew (never truncated, never through a symlink): the runtime dir may be shared.
    fds.log = create_private_file(log_file);
    fds.null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int status_pipe[2];
    if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
        int e = errno;
        fds.close_all();
        throw bridge_error(std::string("pipe2: ") + std::strerror(e));
    }
    fds.status_read = status_pipe[0];
    fds.status_write = status_pipe[1];
    return fds;
}

// In the forked child, so only async-signal-safe calls: becomes the kernel.
[[noreturn]] void exec_kernel(pid_t parent, const rlimit& fd_limit, const child_fds& fds, char** argv, char** envp) {
    ::setsid();  // own session and process group, like start_new_session=True
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // owner already gone
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (fd_limit.rlim_cur != RLIM_INFINITY) ::setrlimit(RLIMIT_NOFILE, &fd_limit);
    ::dup2(fds.null, 0);
    ::dup2(fds.log, 1);
    ::dup2(fds.log, 2);
    ::execvpe(argv[0], argv, envp);
    int e = errno;
    (void)!::write(fds.status_write, &e, sizeof e);
    ::_exit(127);
}

// The child's errno when its exec failed; nullopt when exec worked.
std::optional<int> exec_failure(int status_read) {
    int child_errno = 0;
    ssize_t n;
    do n = ::read(status_read, &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    ::close(status_read);
    if (n == sizeof child_errno) return child_errno;
    return std::nullopt;
}

}  // namespace

std::unique_ptr<kernel_process> kernel_process::launch(const kernelspec& spec, const fs::path& connection_file,
                                                       const fs::path& log_file,
                                                       const std::map<std::string, std::string>& extra_env) {
    std::vector<std::string> args = spec.command(connection_file);
    if (args.empty()) throw no_such_kernel("kernel '" + spec.name + "': empty argv");
    // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
    std::vector<std::string> env = kernel_environment(spec, extra_env);
    std::vector<char*> argvp = c_strings(args), envp = c_strings(env);
    child_fds fds = open_child_fds(log_file);
    pid_t parent = ::getpid();
    rlimit fd_limit = kernel_fd_limit();

    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        fds.close_all();
        throw bridge_error(std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) exec_kernel(parent, fd_limit, fds, argvp.data(), envp.data());
    for (int fd : {fds.status_write, fds.log, fds.null}) ::close(fd);
    if (auto child_errno = exec_failure(fds.status_read)) {
        ::waitpid(pid, nullptr, 0);
        throw no_such_kernel("kernel '" + spec.name + "': cannot run " + args[0] + ": " + std::strerror(*child_errno));
    }
    return std::unique_ptr<kernel_process>(new kernel_process(pid, log_file));
}

kernel_process::~kernel_process() {
    if (running()) {
        signal_group(SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

bool kernel_process::running() {
    if (status_) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = st;
        return false;
    }
    if (r < 0 && errno == ECHILD) {  // reaped elsewhere: gone, status unknown
        status_ = -1;
        return false;
    }
    return true;
}

std::string kernel_process::exit_description() const {
    if (!status_) return {};
    int st = *status_;
    if (st == -1) return "exited (status unknown)";
    if (WIFEXITED(st)) return "exited with code " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) return "killed by signal " + std::to_string(WTERMSIG(st)) + " (" + strsignal(WTERMSIG(st)) + ")";
    return "ended";
}

void kernel_process::signal_group(int sig) {
    if (!status_) ::kill(-pid_, sig);
}

void kernel_process::signal(int sig) {
    if (!status_) ::kill(pid_, sig);
}

bool kernel_process::wait_for_exit(milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (running()) {
        if (steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
}

void kernel_process::stop(milliseconds grace) {
    if (wait_for_exit(grace)) return;
    signal_group(SIGTERM);
    if (wait_for_exit(milliseconds(2000))) return;
    signal_group(SIGKILL);
    wait_for_exit(milliseconds(5000));
}

std::string kernel_process::log_tail(std::size_t max_lines) const {
    std::ifstream in(log_file_);
    std::deque<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        lines.push_back(line);
        if (lines.size() > max_lines) lines.pop_front();
    }
    std::string out;
    for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
    return out;
}

}  // namespace kernel_bridge
