#include "tree_manifest.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <optional>
#include <set>
#include <vector>

namespace ltest {
namespace fs = std::filesystem;

std::string sha256_hex(const std::string& bytes) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char c : digest) {
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

// git's listing of the checkout's files under root, or nullopt when root is
// not in a checkout (or git is missing): git's exit status says.
static std::optional<std::vector<std::string>> git_files(const fs::path& root) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
    std::string dir = root.string();
    pid_t pid = ::fork();
    if (pid == 0) {
        int null_fd = ::open("/dev/null", O_RDWR);
        ::dup2(null_fd, 0);
        ::dup2(out[1], 1);
        ::dup2(null_fd, 2);
        ::execlp("git", "git", "-C", dir.c_str(), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                 static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(out[1]);
    if (pid < 0) {
        ::close(out[0]);
        return std::nullopt;
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n > 0) text.append(buf, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR) break;
    }
    ::close(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
    std::set<std::string> names;  // a file both in the index and changed is listed once per stage
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\0') {
            if (i > start) names.insert(text.substr(start, i - start));
            start = i + 1;
        }
    return std::vector<std::string>(names.begin(), names.end());
}

static bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

static bool skip_dir(const fs::path& dir) {
    static const std::set<std::string> names = {"__pycache__", "build", "dist", "node_modules", "venv", "CVS", "_darcs", "{arch}"};
    std::string name = dir.filename().string();
    std::error_code ec;
    return name.empty() || name[0] == '.' || names.count(name) || ends_with(name, ".egg") || ends_with(name, ".egg-info") ||
           fs::exists(dir / "pyvenv.cfg", ec);
}

static std::vector<std::string> walked_files(const fs::path& root) {
    std::vector<std::string> out;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        const fs::directory_entry& e = *it;
        std::error_code sec;
        if (e.is_directory(sec) && !e.is_symlink(sec)) {
            if (skip_dir(e.path())) it.disable_recursion_pending();
            continue;
        }
        std::string name = e.path().filename().string();
        if (ends_with(name, ".pyc") || ends_with(name, ".pyo") || name.rfind(".ltest-sync-", 0) == 0) continue;
        out.push_back(e.path().lexically_relative(root).string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

static std::optional<std::string> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

tree tree_manifest::make(const fs::path& root) {
    tree t;
    t.root = root;
    hashed_last_ = 0;
    auto listed = git_files(root);
    t.git = listed.has_value();
    std::vector<std::string> names = listed ? std::move(*listed) : walked_files(root);
    std::string summary;
    for (const auto& rel : names) {
        fs::path abs = root / rel;
        struct stat st {};
        if (::stat(abs.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // deleted, a submodule, a socket
        if (abs.filename() == ".ltest-tree-copy") continue;  // tree_sync.py's marker: a copy's, never the client's
        std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        seen& s = cache_[abs.string()];
        if (s.file.sha256.empty() || s.mtime_ns != mtime || s.size != static_cast<std::uint64_t>(st.st_size) ||
            s.inode != st.st_ino) {
            auto bytes = read_file(abs);
            if (!bytes) continue;  // unreadable: not part of what can be sent
            s = seen{mtime, static_cast<std::uint64_t>(st.st_size), st.st_ino, tree_file{sha256_hex(*bytes), false}};
            ++hashed_last_;
        }
        s.file.exec = (st.st_mode & S_IXUSR) != 0;
        t.files[rel] = s.file;
        summary += rel;
        summary += '\0';
        summary += s.file.sha256;
        summary += '\n';
    }
    t.hash = sha256_hex(summary);
    return t;
}

}  // namespace ltest
