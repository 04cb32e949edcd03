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
#include <thread>

#include "kernel_bridge/errors.hpp"
#include "kernel_bridge/private_file.hpp"

extern char** environ;

namespace kernel_bridge {
namespace fs = std::filesystem;
using namespace std::chrono;

long kernel_process::inherited_fd_soft_limit = -1;

std::unique_ptr<kernel_process> kernel_process::launch(const kernelspec& spec, const fs::path& connection_file,
                                                       const fs::path& log_file,
                                                       const std::map<std::string, std::string>& extra_env) {
    std::vector<std::string> args = spec.command(connection_file);
    if (args.empty()) throw no_such_kernel("kernel '" + spec.name + "': empty argv");
    // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : extra_env) env[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> argvp, envp;
    for (auto& a : args) argvp.push_back(a.data());
    argvp.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    // Created anew (never truncated, never through a symlink): the runtime dir may be shared.
    int log_fd = create_private_file(log_file);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // An exec failure is reported through a close-on-exec pipe: EOF means exec worked.
    int status_pipe[2];
    if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
        ::close(log_fd);
        ::close(null_fd);
        throw bridge_error(std::string("pipe2: ") + std::strerror(errno));
    }
    pid_t parent = ::getpid();
    rlimit kernel_fd_limit{RLIM_INFINITY, RLIM_INFINITY};  // the owner's fd limit as it was, if it raised its own
    if (inherited_fd_soft_limit >= 0 && ::getrlimit(RLIMIT_NOFILE, &kernel_fd_limit) == 0)
        kernel_fd_limit.rlim_cur = static_cast<rlim_t>(inherited_fd_soft_limit);
    else
        kernel_fd_limit.rlim_cur = RLIM_INFINITY;

    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        for (int fd : {log_fd, null_fd, status_pipe[0], status_pipe[1]}) ::close(fd);
        throw bridge_error(std::string("fork: ") + std::strerror(e));
    }
    if (pid == 0) {
        ::setsid();  // own session and process group, like start_new_session=True
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);  // owner already gone
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (kernel_fd_limit.rlim_cur != RLIM_INFINITY) ::setrlimit(RLIMIT_NOFILE, &kernel_fd_limit);
        ::dup2(null_fd, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        ::execvpe(argvp[0], argvp.data(), envp.data());
        int e = errno;
        (void)!::write(status_pipe[1], &e, sizeof e);
        ::_exit(127);
    }
    ::close(status_pipe[1]);
    ::close(log_fd);
    ::close(null_fd);
    int child_errno = 0;
    ssize_t n;
    do n = ::read(status_pipe[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    ::close(status_pipe[0]);
    if (n == sizeof child_errno) {
        ::waitpid(pid, nullptr, 0);
        throw no_such_kernel("kernel '" + spec.name + "': cannot run " + args[0] + ": " + std::strerror(child_errno));
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
