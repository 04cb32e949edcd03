#pragma once
// Notices when a file of a preloaded module changes on disk, with inotify:
// one watch per directory, no stat() per run.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ltest {

class preload_watch {
public:
    preload_watch();
    ~preload_watch();
    preload_watch(const preload_watch&) = delete;
    preload_watch& operator=(const preload_watch&) = delete;

    // Replaces the watched set with the directories holding these files.
    void watch(const std::vector<std::string>& files);
    int fd() const { return fd_; }
    // Reads pending events; returns the first changed Python source (or
    // extension module) in a watched directory since the last call, if any.
    std::optional<std::string> changed();

private:
    void clear();
    int fd_ = -1;
    std::vector<std::pair<int, std::string>> watches_;  // wd, directory
};

}  // namespace ltest
