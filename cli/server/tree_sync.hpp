#pragma once
// "The same code everywhere": before a run goes to a kernel on another host
// (a gateway's), that kernel's copy of the project tree is compared with the
// client's (tree_manifest.hpp) and brought up to date, or the run is refused
// ([tool.ltest] gateway_sync). The kernel's side is
// share/ltest/ltest/in_kernel/tree_sync.py, reached through the kernel's own
// execute requests (the changed files' contents go base64 in them,
// content-addressed: the kernel writes a file only if its bytes have the
// sha256 the manifest names). Each kernel's last synced tree is remembered:
// an unchanged tree costs a listing and a stat per file and asks the kernel
// nothing; after an edit only the files that changed since are compared
// there (a file changed on the kernel's host behind ltest's back is seen by
// the next kernel started there, which compares the whole tree).
#include <chrono>
#include <filesystem>
#include <optional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tree_manifest.hpp"
#include "warm_kernel.hpp"

namespace ltest {

enum class sync_mode { send, refuse };

struct sync_outcome {
    std::string error;                       // one line: the run is refused with it ("" = the kernel is up to date)
    std::filesystem::path kernel_root;       // where the tree is on the kernel's host
    std::vector<std::string> stale_modules;  // modules the kernel imported from a file just written
    int sent = 0, deleted = 0;               // files written and deleted on the kernel's host
    bool compared = false;                   // false: the remembered hash matched, nothing asked
    std::size_t files = 0;                   // in the client's tree
};

// What the kernel's part of a sync needs, made in the event loop (the
// manifest and what the server remembers of each kernel are the loop's).
struct sync_plan {
    std::filesystem::path root;
    sync_mode mode = sync_mode::send;
    tree t;
    std::pair<std::string, std::string> key;  // (gateway kernel id, root)
    bool delta = false;        // the server knows the kernel's copy: only what changed since is compared
    bool one_request = false;  // ... and sent at once, written where it differs
    std::vector<std::string> differ, extra;
    std::filesystem::path kernel_root;
    double manifest_ms = 0;
    int hashed = 0;
    std::chrono::steady_clock::time_point t0;
};

class tree_sync {
public:
    // The loop's part: the client's manifest, against what kernel k was
    // last given. nullopt: its copy is the client's already (out says where).
    std::optional<sync_plan> plan(warm_kernel& k, const std::filesystem::path& root, sync_mode mode, sync_outcome& out);
    // The kernel's part: compare there, send, write (or say how it differs,
    // with refuse). Touches nothing of tree_sync, so it may run on a thread
    // that owns k. Throws what kernel_client::execute throws (kernel_died,
    // timeout_error).
    static sync_outcome exchange(warm_kernel& k, sync_plan& p);
    // The loop's again: a kernel that took the tree is remembered holding it.
    void remember(sync_plan&& p, const sync_outcome& out);

private:
    struct synced {
        std::string hash;
        std::filesystem::path kernel_root;
        std::map<std::string, tree_file> files;  // what the kernel's copy holds now
    };
    tree_manifest manifest_;
    std::map<std::pair<std::string, std::string>, synced> synced_;  // (gateway kernel id, root) -> last synced tree
};

}  // namespace ltest
