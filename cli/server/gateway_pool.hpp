#pragma once
// The kernels beyond the first that `--gateway-kernels K` keeps warm on the
// gateway: started with the first one's settings (runtime and preloads sent
// into each), replaced when one dies (checked from the event loop, one
// restart attempt per kernel every few seconds), shut down with the server.
// Runs go to whichever kernel is ready (server_kernel.cpp, start_runs).
//
// A restart runs on a thread of its own (kernel_keeper.hpp), so that the
// other kernels' runs are not held up.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "kernel_keeper.hpp"
#include "warm_kernel.hpp"

namespace ltest {

class gateway_pool {
public:
    gateway_pool(zmq::context_t& ctx, const kernel_settings& settings, int count);
    // Starts each, on a thread of its own; wait_started() waits for them all
    // (throws ltest_error(startup) as warm_kernel::start does, the first
    // kernel's error that failed).
    void start();
    void wait_started();
    // From the event loop: a kernel that died is started again (not more
    // often than every few seconds per kernel: a gateway that cannot is not
    // asked in a loop).
    void keep_warm();
    // Each kernel's entry for --status' gateway_kernels; runs[i + 1]: runs on kernel i.
    nlohmann::json status(const std::map<int, int>& runs) const;
    std::size_t size() const { return kernels_.size(); }
    warm_kernel& at(std::size_t i) { return *kernels_[i].kernel; }
    // Usable, and not being restarted: the event loop may use it.
    bool ready(std::size_t i) const { return kernels_[i].keeper->ready(); }
    // Called for a kernel found dead, before it is started again (its runs are answered there).
    void on_death(std::function<void(std::size_t, const std::string&)> f) { on_death_ = std::move(f); }
    // Called when a restart failed (the kernel is retried later).
    void on_failure(std::function<void(const std::string&)> f) { on_failure_ = std::move(f); }
    kernel_keeper& keeper(std::size_t i) { return *kernels_[i].keeper; }
    void wake_with(int fd) {
        for (auto& m : kernels_) m.keeper->wake_with(fd);
    }
    // Some kernel's thread (a restart, a loan) is under way.
    bool busy() const;
    // Kernels not ready and not being restarted are tried again now (a run waits for one).
    void retry_now();

private:
    struct member {
        std::unique_ptr<warm_kernel> kernel;
        std::unique_ptr<kernel_keeper> keeper;  // after kernel: its thread ends before the kernel goes
    };
    std::vector<member> kernels_;
    std::function<void(std::size_t, const std::string&)> on_death_;
    std::function<void(const std::string&)> on_failure_;
};

// One kernel's entry in --status' gateway_kernels: from warm_kernel::status().
nlohmann::json gateway_kernel_entry(const nlohmann::json& kernel_status, int runs);

}  // namespace ltest
