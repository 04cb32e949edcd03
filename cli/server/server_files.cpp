#include "server_files.hpp"

#include <sys/stat.h>

#include <filesystem>

#include <kernel_bridge/jupyter_paths.hpp>

#include "project_root.hpp"
#include "start_lock.hpp"

namespace ltest {
namespace fs = std::filesystem;

void remove_autostart_files(const options& o) {
    std::error_code ec;
    fs::path log = kernel_bridge::jupyter_runtime_dir() / ("ltest-" + std::to_string(o.port.value_or(default_port)) + ".log");
    // Only the log this process writes (the client pointed stdout at it).
    struct stat out {}, file {};
    if (::fstat(1, &out) == 0 && ::stat(log.c_str(), &file) == 0 && out.st_ino == file.st_ino && out.st_dev == file.st_dev)
        fs::remove(log, ec);
    remove_start_lock(start_lock_path(project_root(fs::current_path()).string(), o.kernel));
}

}  // namespace ltest
