#include "watch_filter.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <set>

extern char** environ;

namespace ltest {
namespace fs = std::filesystem;

static bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool always_skipped(const std::string& name, bool is_dir) {
    // .benchmarks: pytest-benchmark, when installed, creates it in the rootdir on every run.
    // pytest-cache-files-*: pytest 8 and later make .pytest_cache in a temporary
    // directory of that name, renamed into place: a run's own write, not an edit.
    if (is_dir)
        return name == "__pycache__" || name == ".pytest_cache" || name == ".benchmarks" || name == ".git" ||
               name.rfind("pytest-cache-files-", 0) == 0;
    return name == "4913" || ends_with(name, "~") || ends_with(name, ".swp") || ends_with(name, ".swx") ||
           name.rfind(".#", 0) == 0 || ends_with(name, ".pyc");
}

bool skipped_without_git(const std::string& name, bool is_dir) {
    return always_skipped(name, is_dir) || (!name.empty() && name[0] == '.');
}

namespace {

// Runs git in `dir` with `input` on stdin; its stdout, or nullopt when it
// could not run or exited with a code other than 0 and 1 (check-ignore's
// "none ignored").
std::optional<std::string> run_git(const fs::path& dir, const std::vector<std::string>& args, const std::string& input) {
    int in_fd = ::memfd_create("ltest-git-stdin", MFD_CLOEXEC);
    int out[2];
    if (in_fd < 0 || ::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
    if (::write(in_fd, input.data(), input.size()) != static_cast<ssize_t>(input.size())) return std::nullopt;
    ::lseek(in_fd, 0, SEEK_SET);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> full{"git", "-C", dir.string()};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, "git", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in_fd);
    ::close(out[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; rc == 0 && (n = ::read(out[0], buf, sizeof buf)) != 0;)
        if (n > 0) text.append(buf, static_cast<std::size_t>(n));
        else if (errno != EINTR) break;
    ::close(out[0]);
    int status = 0;
    if (rc != 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) > 1) return std::nullopt;
    return text;
}

}  // namespace

ignore_rules::ignore_rules(const fs::path& root) : root_(root) {
    auto out = run_git(root, {"rev-parse", "--is-inside-work-tree"}, "");
    in_git_ = out && out->rfind("true", 0) == 0;
}

std::vector<fs::path> ignore_rules::keep(const std::vector<fs::path>& paths, bool are_dirs) const {
    std::vector<fs::path> named;
    for (const auto& p : paths) {
        std::string name = p.filename().string();
        if (!(in_git_ ? always_skipped(name, are_dirs) : skipped_without_git(name, are_dirs))) named.push_back(p);
    }
    if (!in_git_ || named.empty()) return named;
    std::string input;
    for (const auto& p : named) input += p.string() + (are_dirs ? "/" : "") + '\0';
    auto out = run_git(root_, {"check-ignore", "--stdin", "-z"}, input);
    if (!out) return named;  // git failed: watch too much rather than too little
    std::set<std::string> ignored;
    for (std::size_t start = 0, end; (end = out->find('\0', start)) != std::string::npos; start = end + 1)
        ignored.insert(out->substr(start, end - start));
    std::vector<fs::path> kept;
    for (const auto& p : named)
        if (!ignored.count(p.string() + (are_dirs ? "/" : ""))) kept.push_back(p);
    return kept;
}

}  // namespace ltest
