#pragma once
// inotify over a directory tree for watch mode: one watch per
// directory that ignore_rules keeps, new directories added as they appear.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "watch_filter.hpp"

namespace ltest {

class tree_watch {
public:
    // Watches root and the directories under it. Throws ltest_error(internal)
    // when inotify is unavailable.
    tree_watch(const std::filesystem::path& root, const ignore_rules& rules);
    ~tree_watch();
    tree_watch(const tree_watch&) = delete;
    tree_watch& operator=(const tree_watch&) = delete;

    int fd() const { return fd_; }
    // The pending events' paths (relative to root) that are not skipped;
    // "(too many changes to list)" after an inotify queue overflow.
    std::vector<std::string> read_changes();

private:
    void add_tree(const std::filesystem::path& dir);
    std::string relative(const std::filesystem::path& p) const;

    std::filesystem::path root_;
    const ignore_rules& rules_;
    int fd_ = -1;
    std::map<int, std::filesystem::path> dirs_;  // watch descriptor -> directory
};

}  // namespace ltest
