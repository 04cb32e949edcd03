#pragma once
// The kernels beyond the first that `--gateway-kernels K` keeps warm on the
// gateway: started with the first one's settings (runtime and preloads sent
// into each), replaced when one dies (checked from the event loop, one
// restart attempt per kernel every few seconds), shut down with the server.
// Runs go to the server's own kernel (warm_kernel) today; these stand by for
// `-n auto` over the gateway's kernels (docs/design.md, Many hosts).
#include <chrono>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "warm_kernel.hpp"

namespace ltest {

class gateway_pool {
public:
    gateway_pool(zmq::context_t& ctx, const kernel_settings& settings, int count);
    // Starts each (throws ltest_error(startup) as warm_kernel::start does).
    void start();
    // From the event loop: a kernel that died is started again (not more
    // often than every few seconds per kernel: a gateway that cannot is not
    // asked in a loop).
    void keep_warm();
    // Each kernel's entry for --status' gateway_kernels.
    nlohmann::json status() const;

private:
    struct member {
        std::unique_ptr<warm_kernel> kernel;
        std::chrono::steady_clock::time_point last_try{};
    };
    std::vector<member> kernels_;
};

// One kernel's entry in --status' gateway_kernels: from warm_kernel::status().
nlohmann::json gateway_kernel_entry(const nlohmann::json& kernel_status, int runs);

}  // namespace ltest
