#pragma once
// The project a run belongs to: the directory pytest would take as its
// rootdir when given no paths. ltest keeps one server per project root (and
// kernelspec), found by this rule from the client's and the server's cwd.
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

}  // namespace ltest
