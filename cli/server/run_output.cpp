#include "run_output.hpp"

#include <unistd.h>

#include <cerrno>

namespace ltest {

// One read's worth: a stream message's text, small enough that a few of
// them queued for a slow client stay well under a MiB.
static constexpr std::size_t read_size = 32768;

chunk read_chunk(int fd) {
    chunk c;
    c.bytes.resize(read_size);
    ssize_t n;
    do {
        n = ::read(fd, c.bytes.data(), read_size);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c.bytes.resize(static_cast<std::size_t>(n));
        return c;
    }
    c.bytes.clear();
    c.eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);  // EIO: a pty whose other side closed
    return c;
}

bool write_some(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace ltest
