#include "kernel_bridge/jupyter_paths.hpp"

#include <cctype>
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

// jupyter_core's envset(): "no", "n", "false", "off", "0", "0.0" (any case) are false.
static bool env_false(const std::string& v) {
    std::string low;
    for (char c : v) low += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return low == "no" || low == "n" || low == "false" || low == "off" || low == "0" || low == "0.0";
}

std::vector<fs::path> jupyter_data_path(const fs::path& env_prefix) {
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
    const std::vector<fs::path> system{"/usr/local/share/jupyter", "/usr/share/jupyter"};
    std::vector<fs::path> env;  // sys.prefix/share/jupyter (/usr/share/jupyter for Debian's python3: a system dir)
    fs::path env_dir = env_prefix.empty() ? fs::path() : (env_prefix / "share" / "jupyter").lexically_normal();
    if (!env_dir.empty() && env_dir != system[0] && env_dir != system[1]) env.push_back(env_dir);
    std::error_code ec;
    std::string prefer = env_or("JUPYTER_PREFER_ENV_PATH", "");
    bool env_first = !prefer.empty() ? !env_false(prefer)
                                     : !env_prefix.empty() && fs::exists(env_prefix / "pyvenv.cfg", ec);
    if (env_first) out.insert(out.end(), env.begin(), env.end());
    if (fs::path user = jupyter_data_dir(); !user.empty()) out.push_back(user);
    if (!env_first) out.insert(out.end(), env.begin(), env.end());
    out.insert(out.end(), system.begin(), system.end());
    return out;
}

}  // namespace kernel_bridge
