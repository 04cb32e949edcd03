#include "tree_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.hpp"
#include "exit_codes.hpp"

namespace ltest {
namespace fs = std::filesystem;

static constexpr std::uint32_t dir_events =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF;

tree_watch::tree_watch(const fs::path& root, const ignore_rules& rules) : root_(root), rules_(rules) {
    fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd_ < 0) throw ltest_error(exit_code::internal, std::string("inotify: ") + std::strerror(errno));
    add_tree(root);
}

tree_watch::~tree_watch() {
    if (fd_ >= 0) ::close(fd_);
}

// Breadth first, one ignore query per level, so an ignored tree (build/,
// node_modules/) is never walked.
void tree_watch::add_tree(const fs::path& dir) {
    std::vector<fs::path> level{dir};
    while (!level.empty()) {
        std::vector<fs::path> next;
        for (const auto& d : level) {
            int wd = ::inotify_add_watch(fd_, d.c_str(), dir_events | IN_ONLYDIR | IN_DONT_FOLLOW);
            if (wd < 0) continue;  // gone already, or not ours to read
            dirs_[wd] = d;
            std::error_code ec;
            for (const auto& e : fs::directory_iterator(d, ec))
                if (e.is_directory(ec) && !e.is_symlink(ec)) next.push_back(e.path());
        }
        level = next.empty() ? next : rules_.keep(next, true);
    }
}

std::string tree_watch::relative(const fs::path& p) const { return p.lexically_relative(root_).string(); }

std::vector<std::string> tree_watch::read_changes() {
    std::vector<fs::path> files;
    std::vector<fs::path> new_dirs;
    bool overflow = false;
    alignas(inotify_event) char buf[65536];
    for (ssize_t n; (n = ::read(fd_, buf, sizeof buf)) > 0;) {
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) overflow = true;
            if (ev->mask & IN_IGNORED) dirs_.erase(ev->wd);
            auto dir = dirs_.find(ev->wd);
            if (dir == dirs_.end() || ev->len == 0) continue;
            fs::path path = dir->second / ev->name;
            if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
                new_dirs.push_back(path);
            else if (!(ev->mask & IN_ISDIR))
                files.push_back(path);
        }
    }
    std::vector<std::string> out;
    if (overflow) out.push_back("(too many changes to list)");
    for (const auto& d : rules_.keep(new_dirs, true)) {
        add_tree(d);
        out.push_back(relative(d) + "/");
    }
    for (const auto& f : rules_.keep(files, false))
        if (out.empty() || out.back() != relative(f)) out.push_back(relative(f));
    return out;
}

}  // namespace ltest
