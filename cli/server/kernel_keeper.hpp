#pragma once
// Keeps one gateway kernel warm without holding up the event loop: a kernel
// found dead is started again (the gateway starts one, the runtime and the
// preloads go in: seconds) on a thread of its own, not more often than every
// few seconds (a gateway that cannot is not asked in a loop). Until that
// thread ends the event loop must not touch the kernel: ready() is false,
// and status() gives what the kernel was, marked "restarting".
#include <chrono>
#include <functional>
#include <future>
#include <string>

#include <nlohmann/json.hpp>

#include "warm_kernel.hpp"

namespace ltest {

class kernel_keeper {
public:
    explicit kernel_keeper(warm_kernel& k) : kernel_(k) {}
    ~kernel_keeper() { wait(); }  // the thread ends before the kernel can go
    kernel_keeper(const kernel_keeper&) = delete;
    kernel_keeper& operator=(const kernel_keeper&) = delete;

    // The first start, on its thread; wait() rethrows what it threw.
    void start();
    void wait();
    // From the event loop: a restart that ended is collected (restarted()
    // runs then, on the loop's thread); a dead kernel's runs are answered
    // (died(why), before the kernel is stopped) and its restart begins.
    // failed(why): the restart failed (tried again later, or at retry_now()).
    void tick(const std::function<void(const std::string&)>& died, const std::function<void()>& restarted,
              const std::function<void(const std::string&)>& failed);
    // Not ready and not restarting: the next tick tries at once.
    void retry_now() {
        if (!thread_.valid() && !kernel_.usable()) last_try_ = {};
    }
    bool ready() const { return !thread_.valid() && kernel_.usable(); }
    bool restarting() const { return thread_.valid(); }
    nlohmann::json status() const;

private:
    warm_kernel& kernel_;
    std::chrono::steady_clock::time_point last_try_{};
    nlohmann::json before_;      // its status when the restart began
    std::future<void> thread_;   // the start or restart under way
};

}  // namespace ltest
