// Before a run goes to a gateway kernel: that kernel's copy of the project
// tree is brought up to date (tree_sync.hpp), or the run is refused. The
// manifest is made in the loop (an unchanged tree asks the kernel nothing);
// a sync that must ask the kernel runs on a thread its keeper lends the
// kernel to (kernel_keeper.hpp), the run `syncing` meanwhile, so that no
// other run waits on it and a sharded run's kernels sync at once.
#include <unistd.h>

#include "errors.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "server_core.hpp"

namespace ltest {
namespace fs = std::filesystem;

kernel_keeper& server::keeper_for(int kernel) {
    return kernel == 0 ? first_keeper_ : gateway_pool_.keeper(static_cast<std::size_t>(kernel - 1));
}

void server::sync_then_start(run& r) {
    warm_kernel& k = kernel_for(r);
    if (!k.settings().gateway) {
        start_relayed(r);
        return;
    }
    ++r.syncs;
    fs::path root = project_root(r.spec.cwd.empty() ? fs::current_path() : fs::path(r.spec.cwd));
    sync_mode mode = opts_.gateway_sync == "refuse" ? sync_mode::refuse : sync_mode::send;
    sync_outcome out;
    std::optional<sync_plan> plan;
    try {
        plan = tree_sync_.plan(k, root, mode, out);
    } catch (const std::exception& e) {  // the client's tree could not be listed
        answer(r, failed_run(exit_code::startup, "cannot list the project tree to send it: " + std::string(e.what())));
        return;
    }
    if (!plan) {  // the kernel holds the client's tree already
        synced(r, out, root);
        return;
    }
    r.set_phase(run_phase::syncing);
    auto p = std::make_shared<sync_plan>(std::move(*plan));
    auto result = std::make_shared<sync_outcome>();
    keeper_for(r.kernel).lend([&k, p, result] { *result = tree_sync::exchange(k, *p); },
                              [this, id = r.id, root, p, result](std::exception_ptr error) {
                                  std::string failure;
                                  if (error) try {
                                          std::rethrow_exception(error);
                                      } catch (const std::exception& e) {
                                          failure = e.what();
                                      }
                                  if (failure.empty()) tree_sync_.remember(std::move(*p), *result);
                                  auto it = std::find_if(runs_.begin(), runs_.end(), [&](const run& x) { return x.id == id; });
                                  if (it == runs_.end() || it->phase() != run_phase::syncing) return;  // answered meanwhile
                                  if (!failure.empty()) {
                                      answer(*it, failed_run(exit_code::kernel_died,
                                                             "the gateway kernel failed while its project tree was brought up to date: " + failure));
                                      return;
                                  }
                                  synced(*it, *result, root);
                              });
}

// The kernel's copy is the client's (or cannot be): the run starts there, or is answered.
void server::synced(run& r, const sync_outcome& out, const fs::path& root) {
    if (!out.error.empty()) {
        log::kernel().warn("run {} refused: {}", r.id.substr(0, 8), out.error);
        answer(r, failed_run(exit_code::startup, out.error));
        return;
    }
    if (!r.shard_of.empty() && !shard_jobs_.count(r.shard_of)) {  // a helper whose run ended meanwhile
        answer(r, failed_run(exit_code::internal, "its sharded run ended"));
        return;
    }
    if (!out.stale_modules.empty()) {
        // A file just written that the kernel had imported (a preload) needs a
        // fresh kernel, which imports the new one; once, since the fresh kernel
        // may be on another host whose tree needs the files too.
        std::string modules;
        for (const auto& m : out.stale_modules) modules += (modules.empty() ? "" : ", ") + m;
        if (r.syncs > 1) {
            answer(r, failed_run(exit_code::kernel_died, "the gateway kernel imported modules whose files changed (" +
                                                             modules + ") again after a restart; run again"));
            return;
        }
        log::kernel().info("the gateway kernel had imported {} from files just sent; restarting it", modules);
        try {
            if (r.kernel == 0) restart_kernel();
            else gateway_pool_.at(static_cast<std::size_t>(r.kernel - 1)).restart();
        } catch (const std::exception& e) {
            answer(r, failed_run(exit_code::startup, "the kernel could not be restarted: " + std::string(e.what())));
            return;
        }
        for (auto& other : runs_) other.last_heard = std::chrono::steady_clock::now();  // the loop was blocked
        sync_then_start(r);
        return;
    }
    // The tree elsewhere on the kernel's host: the run's cwd is the same place in it.
    if (out.kernel_root != root && !out.kernel_root.empty()) {
        fs::path rel = fs::path(r.spec.cwd).lexically_relative(root);
        r.spec.cwd = (rel.empty() || *rel.begin() == ".." ? out.kernel_root : out.kernel_root / rel).lexically_normal().string();
        if (r.spec.env.count("PWD")) r.spec.env["PWD"] = r.spec.cwd;
    }
    start_relayed(r);
}

}  // namespace ltest
