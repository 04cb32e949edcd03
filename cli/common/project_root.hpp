#pragma once
// The project a run belongs to: the directory pytest would take as its
// rootdir when given no paths. ltest keeps one server per project root and
// interpreter (or kernelspec), found by this rule from the client's and the
// server's cwd.
#include <filesystem>
#include <string>

namespace ltest {

// Whether a file called `name` with this text makes its directory pytest's
// rootdir: pytest.ini (always), pyproject.toml with [tool.pytest.ini_options],
// tox.ini with [pytest], setup.cfg with [tool:pytest].
bool is_pytest_config(const std::string& name, const std::string& text);

// From `start` upward, the first directory holding a pytest configuration
// file (is_pytest_config, pytest's order within one directory); else the
// nearest directory with a pyproject.toml or setup.py; else `start` itself.
// Always absolute and normalised (no trailing slash, no `..`).
std::filesystem::path project_root(const std::filesystem::path& start);

// Which server a directory belongs to: its project root when a marker
// (pytest's configuration files, pyproject.toml, setup.py) is found upward,
// else "": every directory without a marker shares one server per user and
// interpreter (a scratch directory is not a project; a server each, ~100 MB,
// for every /tmp/x a user tried pytest in would be waste). The shared server
// runs in "/", the directory least likely to hold a marker.
std::string server_root(const std::filesystem::path& start);
// A server root for messages: the root, or what "" means seen from cwd.
std::string root_text(const std::string& root, const std::filesystem::path& cwd);

}  // namespace ltest
