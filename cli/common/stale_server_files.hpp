#pragma once
// Files a killed server left in the runtime directory (issue 30, finding 8).
// A SIGKILLed server, and the kernel that died with it, leave: its runtime
// file ltest-PORT.json (with the key), the hand-over socket ltest-PORT.sock,
// the auto-start log ltest-PORT.log, the kernel's connection file
// kernel-ltest-PID.json and log ltest-kernel-PID.log; a killed starting
// client leaves its start lock. The next client's server choice and each
// server's start remove them, once the process the runtime file names is
// shown not to be that server.
#include <string>

#include "runtime_file.hpp"

namespace ltest {

// /proc/PID/stat's start time (clock ticks after boot), 0 if unknown. The
// runtime file records it: a reused pid then shows a different one.
unsigned long long process_start_time(int pid);

// Whether the process the runtime file names is still that server: its pid
// lives, and its start time matches the one recorded (a file without one: the
// process is an ltest executable). A pid owned by another user is not ours.
bool is_that_server(const server_info& s);

// Removes every dead server's files from the runtime directory, and start
// locks that no one holds. Only regular files and sockets this user owns,
// never through a symlink; a live server's files are never touched.
void remove_stale_server_files();

}  // namespace ltest
