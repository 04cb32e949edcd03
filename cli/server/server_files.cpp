#include "server_files.hpp"

#include <sys/stat.h>

#include <filesystem>

#include <kernel_bridge/jupyter_paths.hpp>

#include "project_root.hpp"
#include "python_choice.hpp"
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
    std::optional<python_choice> python;
    try {
        python = server_python_choice(o, project_root(fs::current_path()));
    } catch (const std::exception&) {
    }
    remove_start_lock(start_lock_path(server_root(fs::current_path()), server_key(o, python)));
}

}  // namespace ltest
