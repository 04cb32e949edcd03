#include "kernel_bridge/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "kernel_bridge/errors.hpp"

namespace kernel_bridge {
namespace fs = std::filesystem;

void ensure_private_dir(const fs::path& dir) {
    if (dir.empty()) return;
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) throw bad_file("cannot use the directory " + dir.string() + ": " + std::strerror(errno));
        if (dir.has_parent_path() && dir.parent_path() != dir) {
            std::error_code ec;
            fs::create_directories(dir.parent_path(), ec);  // the parents as mkdir -p makes them
        }
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
            throw bad_file("cannot create the directory " + dir.string() + ": " + std::strerror(errno));
        if (::stat(dir.c_str(), &st) != 0)
            throw bad_file("cannot use the directory " + dir.string() + ": " + std::strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) throw bad_file(dir.string() + " is not a directory");
    if (st.st_uid != ::geteuid())
        throw bad_file("the directory " + dir.string() + " belongs to uid " + std::to_string(st.st_uid) +
                       ", not to you: use a directory of your own (mkdir -m 700 DIR; JUPYTER_RUNTIME_DIR=DIR)");
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw bad_file("the directory " + dir.string() + " is writable by others (mode " + mode +
                       "): use a directory of your own (chmod go-w " + dir.string() +
                       ", or JUPYTER_RUNTIME_DIR=DIR after mkdir -m 700 DIR)");
    }
}

void write_private_file(const fs::path& path, const std::string& text) {
    if (path.has_parent_path()) ensure_private_dir(path.parent_path());
    fs::path tmp = path;
    tmp += ".tmp" + std::to_string(::getpid());
    int fd = create_private_file(tmp);
    ssize_t n = ::write(fd, text.data(), text.size());
    int e = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size()) || ::rename(tmp.c_str(), path.c_str()) != 0) {
        if (n == static_cast<ssize_t>(text.size())) e = errno;
        ::unlink(tmp.c_str());
        throw bad_file("cannot write " + path.string() + ": " + std::strerror(e));
    }
}

int create_private_file(const fs::path& path) {
    // A leftover file would keep its old mode and owner: remove it, then create anew.
    ::unlink(path.c_str());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw bad_file("cannot create " + path.string() + ": " + std::strerror(errno));
    return fd;
}

namespace {

// The problem with an open fd as a private file, or "".
std::string problem_of(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::strerror(errno);
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    if (st.st_uid != ::geteuid()) return "owned by uid " + std::to_string(st.st_uid) + ", not by you";
    if (st.st_mode & 077) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return std::string("mode ") + mode + ": group or others have access (should be 0600)";
    }
    return "";
}

// O_NONBLOCK: a planted FIFO must not block the open.
int open_checked(const fs::path& path, std::string& problem) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        problem = errno == ELOOP ? "a symbolic link" : std::strerror(errno);
        return -1;
    }
    problem = problem_of(fd);
    if (problem.empty()) return fd;
    ::close(fd);
    return -1;
}

}  // namespace

std::string private_file_problem(const fs::path& path) {
    std::string problem;
    int fd = open_checked(path, problem);
    if (fd >= 0) ::close(fd);
    return problem;
}

std::string read_private_file(const fs::path& path) {
    std::string problem;
    int fd = open_checked(path, problem);
    if (fd < 0) throw bad_file("refusing " + path.string() + ": " + problem);
    std::string text;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return text;
}

}  // namespace kernel_bridge
