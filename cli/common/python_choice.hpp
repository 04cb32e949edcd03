#pragma once
// Which Python a run means: the one `python -m pytest` would run in there.
// The active $VIRTUAL_ENV; else the project root's .venv (uv, poetry, hatch
// and pdm make it there); else [tool.ltest] python; else the first python3
// on PATH that has pytest. --python overrides the rule, --kernel leaves it
// (a kernelspec names its own interpreter).
//
// The client decides this on every run, so only path and file checks here:
// no Python is started. Whether a PATH python3 has pytest is known only by
// asking it, which the server does when it starts (python_probe.hpp); a
// client takes the first python3 on PATH that has a live server for its
// project whose start skipped exactly the ones before it.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "options.hpp"

namespace ltest {

struct python_choice {
    enum class source { option, virtual_env, project_venv, config, path };
    source from = source::path;
    // One interpreter, or (from PATH) every python3 on PATH in order.
    std::vector<std::string> candidates;

    // The start lock's key: one start at a time per project and choice.
    std::string lock_key() const;
    // "$VIRTUAL_ENV", "the project's .venv", ... for messages.
    std::string why() const;
};

// Throws ltest_error(startup) when what the rule picks does not exist: a
// $VIRTUAL_ENV without bin/python, a [tool.ltest] python that is not there,
// no python3 on PATH. `root` is the project root (project_root.hpp).
python_choice choose_python(const options& o, const std::filesystem::path& root);

// The start lock's key of a server (start_lock.hpp): its kernelspec, or the
// interpreter choice (nullopt: a kernelspec).
std::string server_key(const options& o, const std::optional<python_choice>& python);

// What a server started with these options runs on: nullopt when it
// attaches (--existing); with --kernel, the rule's answer if it has one (the
// kernelspec search adds its sys.prefix); else the rule's answer, or
// ltest_error(startup) saying why there is none.
std::optional<python_choice> server_python_choice(const options& o, const std::filesystem::path& root);

// An executable file at `path` (symlinks followed).
bool is_executable_file(const std::filesystem::path& path);

// The interpreter's sys.prefix as its files say (no Python started): a
// virtualenv's directory (the one holding pyvenv.cfg), else the parent of
// the directory the resolved executable is in (/usr/bin/python3: /usr).
std::filesystem::path python_prefix(const std::filesystem::path& python);

}  // namespace ltest
