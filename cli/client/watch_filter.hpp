#pragma once
// Which changes under the project root start a new run in watch mode (issue
// 15). Never: pytest's and Python's own output (__pycache__, .pytest_cache),
// version control (.git), editors' temporary files (vim's 4913 and .swp,
// emacs's .#x and x~). In a git work tree, what .gitignore ignores (git
// check-ignore answers); outside one, every dot file and dot directory.
#include <filesystem>
#include <string>
#include <vector>

namespace ltest {

// A file or directory name (one path component) that is never watched.
bool always_skipped(const std::string& name, bool is_dir);
// Without git: also dot files and dot directories.
bool skipped_without_git(const std::string& name, bool is_dir);

class ignore_rules {
public:
    // Asks git whether `root` is in a work tree (once).
    explicit ignore_rules(const std::filesystem::path& root);
    bool in_git() const { return in_git_; }
    // The paths (absolute, under root) that are not skipped, in order.
    std::vector<std::filesystem::path> keep(const std::vector<std::filesystem::path>& paths, bool are_dirs) const;

private:
    std::filesystem::path root_;
    bool in_git_ = false;
};

}  // namespace ltest
