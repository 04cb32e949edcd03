#include "client_liveness.hpp"

#include <fstream>
#include <iterator>

namespace ltest {

static std::string read_first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string this_host_id() {
    static const std::string id = read_first_line("/proc/sys/kernel/random/boot_id");
    return id;
}

process_state parse_proc_stat(const std::string& stat) {
    // "PID (COMMAND) STATE ...": the command may hold spaces and parentheses.
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) return process_state::gone;
    switch (stat[close + 2]) {
        case 'Z':
        case 'X':
        case 'x':
            return process_state::gone;
        case 'T':
        case 't':
            return process_state::stopped;
        default:
            return process_state::alive;
    }
}

process_state state_of(int pid) {
    if (pid <= 0) return process_state::gone;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    if (!in) return process_state::gone;
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return parse_proc_stat(stat);
}

}  // namespace ltest
