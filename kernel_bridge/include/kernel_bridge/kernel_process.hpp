#pragma once
// A kernel process we launched: its own session and process group, watched,
// signalled, and stopped in order (request, wait, SIGTERM, SIGKILL).
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "kernel_bridge/kernelspec.hpp"

namespace kernel_bridge {

class kernel_process {
public:
    // Starts spec.command(connection_file) with spec.env and extra_env added to
    // this process's environment. Output goes to log_file. The kernel gets
    // SIGTERM if this process dies (PR_SET_PDEATHSIG), so no orphans are left
    // even when the owner is killed.
    static std::unique_ptr<kernel_process> launch(const kernelspec& spec,
                                                  const std::filesystem::path& connection_file,
                                                  const std::filesystem::path& log_file,
                                                  const std::map<std::string, std::string>& extra_env = {});
    // A soft RLIMIT_NOFILE for the kernels launched from now on (-1: as
    // inherited): an owner that raised its own limit (the ltest server, for
    // many connections) gives kernels and their tests the limit it started with.
    static long inherited_fd_soft_limit;
    ~kernel_process();  // kills the group if still running
    kernel_process(const kernel_process&) = delete;
    kernel_process& operator=(const kernel_process&) = delete;

    pid_t pid() const { return pid_; }
    // Reaps without blocking; false once the process has exited.
    bool running();
    // "exited with code 1" / "killed by signal 9 (Killed)", empty while running.
    std::string exit_description() const;
    // Sends sig to the kernel's process group (the kernel and what it forked).
    void signal_group(int sig);
    void signal(int sig);
    // Waits up to grace for a voluntary exit, then SIGTERM, then SIGKILL; reaps.
    void stop(std::chrono::milliseconds grace);
    const std::filesystem::path& log_file() const { return log_file_; }
    // Last lines of the kernel's output, for error messages.
    std::string log_tail(std::size_t max_lines = 5) const;

private:
    kernel_process(pid_t pid, std::filesystem::path log_file) : pid_(pid), log_file_(std::move(log_file)) {}
    bool wait_for_exit(std::chrono::milliseconds timeout);

    pid_t pid_;
    std::optional<int> status_;
    std::filesystem::path log_file_;
};

}  // namespace kernel_bridge
