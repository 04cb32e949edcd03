#pragma once
// Non-blocking reads and writes on a run's fds.
#include <string>

namespace ltest {

struct chunk {
    std::string bytes;  // empty and !eof: nothing to read now
    bool eof = false;   // the other side closed (a pty reports EIO)
};

chunk read_chunk(int fd);
// Writes all of text unless the fd would block or is closed; false then.
bool write_some(int fd, const std::string& text);

}  // namespace ltest
