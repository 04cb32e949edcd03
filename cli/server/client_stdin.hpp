#pragma once
// The client's own stdin for a run's test process, when the client runs on
// this host and its stdin is a pipe, a file or a device that is not a
// terminal: fd 0 of the test process is then what a child of the client's
// shell would have (every reader gets its bytes and its EOF: os.read(0),
// subprocesses, sys.stdin.buffer), not a pipe the server fills on demand.
#include <cstdint>

namespace ltest {

struct stdin_identity {
    std::uint64_t dev = 0, ino = 0;  // fstat(0) in the client
    std::int64_t offset = -1;        // its file offset (a regular file), -1: none
};

// An fd (O_CLOEXEC, blocking) on the client's stdin: the same open file
// (pidfd_getfd, where this process may take it) or the same file opened
// again (/proc/PID/fd/0, at the client's offset). -1 when it cannot be had,
// or when what is found there is not what the client described (another
// process with that pid, e.g. in another pid namespace) or is a terminal.
int open_client_stdin(int client_pid, const stdin_identity& id);

}  // namespace ltest
