#include "preload_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <set>

#include "log.hpp"

namespace ltest {

preload_watch::preload_watch() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ < 0) log::server().warn("inotify unavailable: edits to preloaded modules will not restart the kernel");
}

preload_watch::~preload_watch() {
    if (fd_ >= 0) ::close(fd_);
}

void preload_watch::clear() {
    for (const auto& [wd, dir] : watches_) ::inotify_rm_watch(fd_, wd);
    watches_.clear();
    changed();  // drop what is left of the old set's events
}

void preload_watch::watch(const std::vector<std::string>& files) {
    if (fd_ < 0) return;
    clear();
    std::set<std::string> dirs;
    for (const auto& f : files) dirs.insert(std::filesystem::path(f).parent_path().string());
    for (const auto& d : dirs) {
        // Editors save by writing in place or by renaming a temp file over the original.
        int wd = ::inotify_add_watch(fd_, d.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM);
        if (wd >= 0) watches_.emplace_back(wd, d);
        else log::server().debug("cannot watch {}", d);
    }
    log::server().debug("watching {} directories of preloaded modules", watches_.size());
}

static bool is_module_file(const std::string& name) {
    auto ends = [&](const char* suffix) {
        std::string s(suffix);
        return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    return ends(".py") || ends(".so");
}

std::optional<std::string> preload_watch::changed() {
    if (fd_ < 0) return std::nullopt;
    std::optional<std::string> first;
    alignas(inotify_event) char buf[8192];
    while (true) {
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n <= 0) break;
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + ev->len;
            if (ev->len == 0 || first) continue;
            std::string name(ev->name);
            if (!is_module_file(name)) continue;
            for (const auto& [wd, dir] : watches_)
                if (wd == ev->wd) first = dir + "/" + name;
        }
    }
    return first;
}

}  // namespace ltest
