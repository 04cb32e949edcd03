#include "kernel_bridge/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kernel_bridge/errors.hpp"

namespace kernel_bridge {
namespace fs = std::filesystem;

void write_private_file(const fs::path& path, const std::string& text) {
    if (path.has_parent_path() && !fs::exists(path.parent_path())) {
        std::error_code ec;
        fs::create_directories(path.parent_path(), ec);
        ::chmod(path.parent_path().c_str(), 0700);
    }
    fs::path tmp = path;
    tmp += ".tmp" + std::to_string(::getpid());
    // A leftover temp file would keep its old mode: remove it, then create anew.
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw bad_file("cannot write " + tmp.string() + ": " + std::strerror(errno));
    ssize_t n = ::write(fd, text.data(), text.size());
    int e = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size()) || ::rename(tmp.c_str(), path.c_str()) != 0) {
        if (n == static_cast<ssize_t>(text.size())) e = errno;
        ::unlink(tmp.c_str());
        throw bad_file("cannot write " + path.string() + ": " + std::strerror(e));
    }
}

}  // namespace kernel_bridge
