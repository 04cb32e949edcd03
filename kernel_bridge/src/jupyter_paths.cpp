#include "kernel_bridge/jupyter_paths.hpp"

#include <cstdlib>
#include <string>

#include "kernel_bridge/errors.hpp"

namespace kernel_bridge {
namespace fs = std::filesystem;

static std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return (v && *v) ? std::string(v) : fallback;
}

// No fallback into a shared directory (/tmp) when HOME is unset: another
// user could have made the runtime directory there first.
static fs::path home() { return env_or("HOME", ""); }

// jupyter_core: JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else ~/.local/share/jupyter.
static fs::path jupyter_data_dir() {
    std::string d = env_or("JUPYTER_DATA_DIR", "");
    if (!d.empty()) return d;
    std::string xdg = env_or("XDG_DATA_HOME", "");
    if (!xdg.empty()) return fs::path(xdg) / "jupyter";
    if (home().empty()) return {};
    return home() / ".local" / "share" / "jupyter";
}

fs::path jupyter_runtime_dir() {
    std::string d = env_or("JUPYTER_RUNTIME_DIR", "");
    if (!d.empty()) return d;
    // jupyter_core 4.x/5.x on Linux: data dir / runtime (XDG_RUNTIME_DIR is not used).
    fs::path data = jupyter_data_dir();
    if (data.empty())
        throw bad_file("HOME is not set, so there is no runtime directory of yours: set HOME, or JUPYTER_RUNTIME_DIR "
                       "to a directory of your own");
    return data / "runtime";
}

std::vector<fs::path> jupyter_data_path() {
    std::vector<fs::path> out;
    std::string jp = env_or("JUPYTER_PATH", "");
    std::size_t start = 0;
    while (!jp.empty() && start <= jp.size()) {
        std::size_t colon = jp.find(':', start);
        std::string part = jp.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        if (!part.empty()) out.emplace_back(part);
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    if (fs::path user = jupyter_data_dir(); !user.empty()) out.push_back(user);
    // sys.prefix/share/jupyter for Debian's /usr/bin/python3 is /usr/share/jupyter,
    // listed below; the system dirs follow jupyter_core's SYSTEM_JUPYTER_PATH.
    out.emplace_back("/usr/local/share/jupyter");
    out.emplace_back("/usr/share/jupyter");
    return out;
}

}  // namespace kernel_bridge
