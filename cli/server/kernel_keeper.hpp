#pragma once
// Keeps one gateway kernel warm without holding up the event loop: a kernel
// found dead is started again (the gateway starts one, the runtime and the
// preloads go in: seconds) on a thread of its own, not more often than every
// few seconds (a gateway that cannot is not asked in a loop). It also lends
// the kernel to other work that talks to it for a while (bringing its
// project tree up to date). Until that thread ends the event loop must not
// touch the kernel: ready() is false, and status() gives what the kernel
// was, marked "restarting" or "syncing". The thread's end writes to the
// loop's wake descriptor, so the loop sees it at once.
#include <chrono>
#include <functional>
#include <future>
#include <string>

#include <nlohmann/json.hpp>

#include "warm_kernel.hpp"

namespace ltest {

// The event loop's wake-up: an eventfd a keeper's thread writes as it ends.
class wake_event {
public:
    wake_event();  // throws ltest_error(startup)
    ~wake_event();
    wake_event(const wake_event&) = delete;
    wake_event& operator=(const wake_event&) = delete;
    int fd() const { return fd_; }
    void clear();  // after the loop saw it readable

private:
    int fd_;
};

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
    bool busy() const { return thread_.valid(); }  // starting, restarting or lent
    // A ready kernel, lent: work() runs on a thread of its own; at the tick
    // after it ends, done(what it threw, or null) runs on the loop's thread.
    void lend(std::function<void()> work, std::function<void(std::exception_ptr)> done);
    // An eventfd the thread's end is written to (-1: none).
    void wake_with(int fd) { wake_fd_ = fd; }
    nlohmann::json status() const;

private:
    warm_kernel& kernel_;
    std::chrono::steady_clock::time_point last_try_{};
    void on_thread(std::function<void()> work);
    nlohmann::json before_;      // its status when the restart (or the loan) began
    std::future<void> thread_;   // the start, restart or loan under way
    bool lent_ = false;
    std::function<void(std::exception_ptr)> done_;
    int wake_fd_ = -1;
};

}  // namespace ltest
