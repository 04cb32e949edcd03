#pragma once
// One server per project root and interpreter (or kernelspec): a client that finds none takes
// this lock (flock on ltest-start-<hash>.lock in the runtime dir) before it
// looks again and starts one, so concurrent first runs start one server. A
// server that stops removes the file under the same lock, so the runtime dir
// is left empty.
#include <filesystem>
#include <string>

namespace ltest {

// The lock file of a server root and server key (python_choice.hpp: server_key; FNV-1a hash of both).
std::filesystem::path start_lock_path(const std::string& project_root, const std::string& kernel);

class start_lock {
public:
    // Blocks until the lock is held. Throws ltest_error(internal) when the
    // runtime dir cannot hold the file.
    explicit start_lock(const std::filesystem::path& file);
    ~start_lock();
    start_lock(const start_lock&) = delete;
    start_lock& operator=(const start_lock&) = delete;

private:
    int fd_ = -1;
};

// Removes the lock file unless a client holds it (it is starting a server
// now). Never throws: a file left behind costs nothing but tidiness.
void remove_start_lock(const std::filesystem::path& file);

}  // namespace ltest
