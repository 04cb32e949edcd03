#include "project_root.hpp"

#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace ltest {
namespace fs = std::filesystem;

// A line that is exactly `[section]`, give or take surrounding blanks.
static bool has_section(const std::string& text, const std::string& section) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto first = line.find_first_not_of(" \t");
        auto last = line.find_last_not_of(" \t\r");
        if (first != std::string::npos && line.compare(first, last - first + 1, "[" + section + "]") == 0) return true;
    }
    return false;
}

bool is_pytest_config(const std::string& name, const std::string& text) {
    if (name == "pytest.ini" || name == ".pytest.ini") return true;
    if (name == "pyproject.toml") return has_section(text, "tool.pytest.ini_options");
    if (name == "tox.ini") return has_section(text, "pytest");
    if (name == "setup.cfg") return has_section(text, "tool:pytest");
    return false;
}

static std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

static fs::path normalised(const fs::path& start) {
    std::error_code ec;
    fs::path from = fs::weakly_canonical(fs::absolute(start, ec), ec);
    if (from.empty()) from = start;
    if (from.has_filename() == false && from != from.root_path()) from = from.parent_path();
    return from;
}

static std::optional<fs::path> marked_root(const fs::path& from) {
    std::error_code ec;
    std::optional<fs::path> fallback;
    for (fs::path dir = from;; dir = dir.parent_path()) {
        for (const char* name : {"pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"}) {
            fs::path file = dir / name;
            if (fs::is_regular_file(file, ec) && is_pytest_config(name, read_text(file))) return dir;
        }
        if (!fallback && (fs::is_regular_file(dir / "pyproject.toml", ec) || fs::is_regular_file(dir / "setup.py", ec)))
            fallback = dir;
        if (dir == dir.root_path() || dir.empty()) break;
    }
    return fallback;
}

fs::path project_root(const fs::path& start) {
    fs::path from = normalised(start);
    return marked_root(from).value_or(from);
}

std::string server_root(const fs::path& start) {
    auto root = marked_root(normalised(start));
    return root ? root->string() : std::string();
}

std::string root_text(const std::string& root, const fs::path& cwd) {
    if (!root.empty()) return root;
    return normalised(cwd).string() + " has no project marker; such directories share one server";
}

}  // namespace ltest
