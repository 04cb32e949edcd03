#pragma once
// Is a run's client still there? A client on this host is asked of the
// kernel (/proc): a stopped client (Ctrl-Z, SIGSTOP) or one blocked writing
// to a pager sends no keepalive but is not gone; only a client whose process
// has ended is. A client on another host is gone when its keepalives stop.
#include <string>

namespace ltest {

enum class process_state { gone, stopped, alive };

// This boot of this host (/proc/sys/kernel/random/boot_id): a client that
// sends the same id runs on this host, and its pid means something here.
std::string this_host_id();

// The state of pid on this host; a zombie is gone.
process_state state_of(int pid);

// From the text of /proc/PID/stat (pure, for tests).
process_state parse_proc_stat(const std::string& stat);

}  // namespace ltest
