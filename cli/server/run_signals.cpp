#include "run_signals.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace ltest {
namespace {

// The process group of pid, from /proc/PID/stat (the field after the state); -1 if gone.
pid_t group_of(const std::string& pid) {
    std::ifstream in("/proc/" + pid + "/stat");
    std::string line;
    if (!std::getline(in, line)) return -1;
    auto close = line.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) return -1;
    char state = 0;
    long ppid = 0, pgrp = -1;
    if (std::sscanf(line.c_str() + close + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3) return -1;
    return static_cast<pid_t>(pgrp);
}

}  // namespace

void interrupt_run_group(pid_t leader) {
    if (leader <= 0) return;
    // The main thread's id is the process id.
    if (::syscall(SYS_tgkill, leader, leader, SIGINT) != 0) ::kill(-leader, SIGINT);  // gone or not ours: the group
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        pid_t pid = static_cast<pid_t>(std::stol(name));
        if (pid != leader && group_of(name) == leader) ::kill(pid, SIGINT);
    }
}

}  // namespace ltest
