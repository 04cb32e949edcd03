// Before a run goes to a gateway kernel: that kernel's copy of the project
// tree is brought up to date (tree_sync.hpp), or the run is refused.
#include <unistd.h>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "server_core.hpp"

namespace ltest {
namespace fs = std::filesystem;

bool server::sync_tree(run& r) {
    fs::path root = project_root(r.spec.cwd.empty() ? fs::current_path() : fs::path(r.spec.cwd));
    sync_mode mode = opts_.gateway_sync == "refuse" ? sync_mode::refuse : sync_mode::send;
    // A file just written that the kernel had imported (a preload) needs a
    // fresh kernel, which imports the new one; once, since the fresh kernel
    // may be on another host whose tree needs the files too.
    for (int attempt = 0;; ++attempt) {
        warm_kernel& k = kernel_for(r);
        sync_outcome out;
        try {
            out = tree_sync_.bring_up_to_date(k, root, mode);
        } catch (const std::exception& e) {
            for (auto& other : runs_) other.last_heard = std::chrono::steady_clock::now();  // the loop was blocked
            answer(r, failed_run(exit_code::kernel_died,
                                 "the gateway kernel failed while its project tree was brought up to date: " +
                                     std::string(e.what())));
            return false;
        }
        for (auto& other : runs_) other.last_heard = std::chrono::steady_clock::now();
        if (!out.error.empty()) {
            log::kernel().warn("run {} refused: {}", r.id.substr(0, 8), out.error);
            answer(r, failed_run(exit_code::startup, out.error));
            return false;
        }
        if (out.stale_modules.empty()) {
            // The tree elsewhere on the kernel's host: the run's cwd is the same place in it.
            if (out.kernel_root != root) {
                fs::path rel = fs::path(r.spec.cwd).lexically_relative(root);
                r.spec.cwd = (rel.empty() || *rel.begin() == ".." ? out.kernel_root : out.kernel_root / rel).lexically_normal().string();
                if (r.spec.env.count("PWD")) r.spec.env["PWD"] = r.spec.cwd;
            }
            return true;
        }
        std::string modules;
        for (const auto& m : out.stale_modules) modules += (modules.empty() ? "" : ", ") + m;
        if (attempt == 1) {
            answer(r, failed_run(exit_code::kernel_died, "the gateway kernel imported modules whose files changed (" +
                                                             modules + ") again after a restart; run again"));
            return false;
        }
        log::kernel().info("the gateway kernel had imported {} from files just sent; restarting it", modules);
        try {
            if (r.kernel == 0) restart_kernel();
            else gateway_pool_.at(static_cast<std::size_t>(r.kernel - 1)).restart();
        } catch (const std::exception& e) {
            answer(r, failed_run(exit_code::startup, "the kernel could not be restarted: " + std::string(e.what())));
            return false;
        }
    }
}

}  // namespace ltest
