#include "start_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <kernel_bridge/jupyter_paths.hpp>
#include <kernel_bridge/private_file.hpp>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {
namespace fs = std::filesystem;

fs::path start_lock_path(const std::string& project_root, const std::string& kernel) {
    std::uint64_t h = 14695981039346656037ull;
    for (char c : project_root + '\0' + kernel) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    char name[64];
    std::snprintf(name, sizeof name, "ltest-start-%016llx.lock", static_cast<unsigned long long>(h));
    return kernel_bridge::jupyter_runtime_dir() / name;
}

// Whether fd is still the file at `file`: a stopping server may have removed
// it between our open and our flock, and a lock on a removed file guards nothing.
static bool still_linked(int fd, const fs::path& file) {
    struct stat held {}, now {};
    return ::fstat(fd, &held) == 0 && ::stat(file.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
           held.st_dev == now.st_dev;
}

start_lock::start_lock(const fs::path& file) {
    kernel_bridge::ensure_private_dir(file.parent_path());  // as the runtime files' (private_file.hpp)
    for (;;) {
        fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0)
            throw ltest_error(exit_code::startup, "cannot create " + file.string() + ": " + std::strerror(errno));
        // Another user's lock file (in a directory that was not private) is never waited on.
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
            ::close(fd_);
            fd_ = -1;
            throw ltest_error(exit_code::startup, "the start lock " + file.string() +
                                                      " is not a private file of yours: remove it");
        }
        while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
        }
        if (still_linked(fd_, file)) return;
        ::close(fd_);
    }
}

start_lock::~start_lock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

void remove_start_lock(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && still_linked(fd, file)) ::unlink(file.c_str());
    ::close(fd);
}

}  // namespace ltest
