#pragma once
// The client's project tree named by its content: relative path -> sha256
// of the file's content, and one hash over that list (tree_sync.hpp sends
// it to gateway kernels). The files: a git checkout's tracked files plus the
// untracked ones git does not ignore; elsewhere every file under the root
// but pytest's default norecursedirs (hidden directories, build, dist, venv,
// node_modules, *.egg, CVS, _darcs, {arch}), __pycache__, *.egg-info,
// virtualenvs (a pyvenv.cfg) and *.pyc/*.pyo: the same rules as the
// kernel's side, share/ltest/ltest/in_kernel/tree_sync.py.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace ltest {

struct tree_file {
    std::string sha256;  // hex
    bool exec = false;   // the owner's execute bit
};

struct tree {
    std::filesystem::path root;
    std::map<std::string, tree_file> files;  // relative path (sorted)
    std::string hash;                        // sha256 over "path\0sha256\n" of every file, in order
    bool git = false;                        // listed by git
};

// sha256 of bytes, as lowercase hex.
std::string sha256_hex(const std::string& bytes);

class tree_manifest {
public:
    // The tree at root. A file whose mtime, size and inode are those of the
    // last look is not read again: an unchanged tree costs a listing and a
    // stat per file.
    tree make(const std::filesystem::path& root);
    // Files read (hashed) by the last make(): for the bench and the log.
    int hashed_last() const { return hashed_last_; }

private:
    struct seen {
        std::int64_t mtime_ns = 0;
        std::uint64_t size = 0, inode = 0;
        tree_file file;
    };
    std::map<std::string, seen> cache_;  // absolute path
    int hashed_last_ = 0;
};

}  // namespace ltest
