#include "client_stdin.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace ltest {

static bool described(int fd, const stdin_identity& id) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    if (static_cast<std::uint64_t>(st.st_dev) != id.dev || static_cast<std::uint64_t>(st.st_ino) != id.ino) return false;
    return !::isatty(fd) && !S_ISDIR(st.st_mode);
}

// The same open file description, as a child of the client's shell inherits
// it (its offset is shared). Needs ptrace's attach rights on the client.
static int take_same_file(int client_pid) {
    // Through syscall(): glibc 2.36's <sys/pidfd.h> declares them without C linkage for C++.
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, client_pid, 0));
    if (pidfd < 0) return -1;
    int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, 0, 0));  // O_CLOEXEC is set on the new fd
    ::close(pidfd);
    return fd;
}

// The same file opened again. O_NONBLOCK: opening a FIFO without writers
// would wait, and the server's loop must not; O_NOCTTY: never a terminal of ours.
static int open_again(int client_pid, const stdin_identity& id) {
    std::string path = "/proc/" + std::to_string(client_pid) + "/fd/0";
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct stat st {};
    if (id.offset > 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ::lseek(fd, id.offset, SEEK_SET);
    return fd;
}

int open_client_stdin(int client_pid, const stdin_identity& id) {
    if (client_pid <= 0) return -1;
    int fd = take_same_file(client_pid);
    if (fd >= 0 && described(fd, id)) return fd;
    if (fd >= 0) ::close(fd);
    fd = open_again(client_pid, id);
    if (fd >= 0 && described(fd, id)) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
}

}  // namespace ltest
