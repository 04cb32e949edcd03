#include "python_choice.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {
namespace fs = std::filesystem;

bool is_executable_file(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

static std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

static std::string absolute_path(const fs::path& p) {
    std::error_code ec;
    return fs::absolute(p, ec).lexically_normal().string();
}

// Every executable `name` on PATH, in order, each once (an empty entry is the cwd, as for execvp).
static std::vector<std::string> on_path(const std::string& name) {
    std::vector<std::string> out;
    std::string path = env("PATH");
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t colon = path.find(':', start);
        std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        fs::path file = fs::path(dir.empty() ? "." : dir) / name;
        if (is_executable_file(file)) {
            std::string abs = absolute_path(file);
            bool seen = false;
            for (const auto& o : out) seen |= o == abs;
            if (!seen) out.push_back(abs);
        }
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return out;
}

// A virtualenv's interpreter: bin/python, else bin/python3.
static std::string venv_python(const fs::path& venv) {
    for (const char* name : {"python", "python3"})
        if (is_executable_file(venv / "bin" / name)) return absolute_path(venv / "bin" / name);
    return "";
}

python_choice choose_python(const options& o, const fs::path& root) {
    using source = python_choice::source;
    if (!o.python.empty()) {
        std::string p = o.python.find('/') == std::string::npos ? "" : absolute_path(o.python);
        if (p.empty()) {
            auto found = on_path(o.python);
            if (found.empty()) throw ltest_error(exit_code::startup, "--python " + o.python + ": not on PATH");
            p = found.front();
        }
        if (!is_executable_file(p)) throw ltest_error(exit_code::startup, "--python " + o.python + ": no such interpreter");
        return {source::option, {p}};
    }
    if (std::string venv = env("VIRTUAL_ENV"); !venv.empty()) {
        std::string p = venv_python(venv);
        if (p.empty())
            throw ltest_error(exit_code::startup, "VIRTUAL_ENV is " + venv +
                                                      " but it has no bin/python: recreate that virtualenv, or deactivate it");
        return {source::virtual_env, {p}};
    }
    if (std::string p = venv_python(root / ".venv"); !p.empty()) return {source::project_venv, {p}};
    if (!o.config_python.empty()) {
        const std::string& p = o.config_python;
        if (p.find('/') == std::string::npos) {
            auto found = on_path(p);
            if (found.empty())
                throw ltest_error(exit_code::startup, o.config_file + ": [tool.ltest] python = '" + p + "' is not on PATH");
            return {source::config, {found.front()}};
        }
        if (!is_executable_file(p))
            throw ltest_error(exit_code::startup, o.config_file + ": [tool.ltest] python: no interpreter at " + p);
        return {source::config, {p}};
    }
    auto found = on_path("python3");
    if (found.empty())
        throw ltest_error(exit_code::startup,
                          "no python3 on PATH (nor an active virtualenv, a .venv in " + root.string() +
                              ", or [tool.ltest] python): ltest runs the tests on the Python `python -m pytest` would");
    return {source::path, found};
}

std::string python_choice::lock_key() const {
    return from == source::path ? std::string("python3 on PATH") : "python " + candidates.front();
}

std::string python_choice::why() const {
    switch (from) {
        case source::option: return "--python";
        case source::virtual_env: return "$VIRTUAL_ENV";
        case source::project_venv: return "the project's .venv";
        case source::config: return "[tool.ltest] python";
        case source::path: return "the first python3 on PATH with pytest";
    }
    return "";
}

std::string server_key(const options& o, const std::optional<python_choice>& python) {
    return o.kernel.empty() && python ? python->lock_key() : "kernel " + o.kernel;
}

std::optional<python_choice> server_python_choice(const options& o, const fs::path& root) {
    if (o.existing) return std::nullopt;
    if (o.kernel.empty()) return choose_python(o, root);
    try {
        return choose_python(o, root);
    } catch (const ltest_error&) {
        return std::nullopt;
    }
}

fs::path python_prefix(const fs::path& python) {
    std::error_code ec;
    fs::path bin = fs::absolute(python, ec).lexically_normal().parent_path();
    if (fs::exists(bin.parent_path() / "pyvenv.cfg", ec)) return bin.parent_path();
    fs::path real = fs::canonical(python, ec);
    if (ec) return bin.parent_path();
    return real.parent_path().parent_path();
}

}  // namespace ltest
