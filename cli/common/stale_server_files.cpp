#include "stale_server_files.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <sstream>

#include <kernel_bridge/jupyter_paths.hpp>

#include "start_lock.hpp"

namespace ltest {
namespace fs = std::filesystem;

unsigned long long process_start_time(int pid) {
    if (pid <= 0) return 0;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 1));
    std::string field;
    // Fields 3.. follow the name; the start time is field 22.
    for (int i = 3; i <= 22 && fields >> field; ++i)
        if (i == 22) try {
                return std::stoull(field);
            } catch (const std::exception&) {
                return 0;
            }
    return 0;
}

// The ltest executables (ltest, ltest-server) and nothing else.
static bool runs_ltest(int pid) {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
    if (ec) return true;  // cannot tell: keep its files
    return exe.filename().string().rfind("ltest", 0) == 0;
}

bool is_that_server(const server_info& s) {
    if (!process_alive(s.pid)) return false;
    if (::kill(s.pid, 0) != 0 && errno == EPERM) return false;  // another user's process: not our server
    // A start time that cannot be read now (a /proc we may not read): keep its files.
    if (unsigned long long now = s.start_time != 0 ? process_start_time(s.pid) : 0; now != 0) return now == s.start_time;
    return runs_ltest(s.pid);
}

// A regular file or socket of this user, looked at without following a symlink.
static bool ours(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && st.st_uid == ::geteuid() && (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode));
}

// Whether p is this process's stdout or stderr: a server started by a
// client writes to ltest-PORT.log, which a dead server of that port had too.
static bool our_output(const fs::path& p) {
    struct stat file {};
    if (::stat(p.c_str(), &file) != 0) return false;
    for (int fd : {1, 2}) {
        struct stat out {};
        if (::fstat(fd, &out) == 0 && out.st_ino == file.st_ino && out.st_dev == file.st_dev) return true;
    }
    return false;
}

static void remove_ours(const fs::path& p) {
    if (ours(p) && !our_output(p)) ::unlink(p.c_str());
}

void remove_stale_server_files() {
    std::error_code ec;
    fs::path dir = kernel_bridge::jupyter_runtime_dir();
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        std::string name = e.path().filename().string();
        if (name.rfind("ltest-start-", 0) == 0 && e.path().extension() == ".lock") {
            if (ours(e.path())) remove_start_lock(e.path());  // only when no one holds it
            continue;
        }
        if (name.rfind("ltest-", 0) != 0 || e.path().extension() != ".json") continue;
        auto s = read_runtime_file(e.path());  // this user's private regular file, or nothing
        if (!s || is_that_server(*s)) continue;
        std::string port = std::to_string(s->port);
        if (e.path().filename() != "ltest-" + port + ".json") continue;  // not a name a server writes
        // The runtime file first, and the rest only by whoever removed it: a
        // new server's start removes it before making files of the same names.
        if (!ours(e.path()) || ::unlink(e.path().c_str()) != 0) continue;
        // The pid-named files only when no ltest process has that pid now (a
        // new server with the old pid writes the same names).
        if (!process_alive(s->pid) || !runs_ltest(s->pid)) {
            std::string pid = std::to_string(s->pid);
            remove_ours(dir / ("kernel-ltest-" + pid + ".json"));
            remove_ours(dir / ("ltest-kernel-" + pid + ".log"));
        }
        remove_ours(dir / ("ltest-" + port + ".sock"));
        remove_ours(dir / ("ltest-" + port + ".log"));
    }
}

}  // namespace ltest
