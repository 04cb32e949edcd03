#include "kernel_keeper.hpp"

#include "log.hpp"

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

static constexpr auto retry_every = seconds(5);

void kernel_keeper::start() {
    thread_ = std::async(std::launch::async, [&k = kernel_] { k.start(); });
}

void kernel_keeper::wait() {
    if (thread_.valid()) thread_.get();
}

void kernel_keeper::tick(const std::function<void(const std::string&)>& died, const std::function<void()>& restarted,
                         const std::function<void(const std::string&)>& failed) {
    if (thread_.valid()) {
        if (thread_.wait_for(seconds(0)) != std::future_status::ready) return;
        try {
            thread_.get();
            log::kernel().info("gateway kernel {} is warm again", kernel_.gateway_kernel_id());
            if (restarted) restarted();
            last_try_ = steady_clock::now();
        } catch (const std::exception& e) {
            log::kernel().error("restart failed: {}; retried in {} s", e.what(), duration_cast<seconds>(retry_every).count());
            last_try_ = steady_clock::now();  // the next attempt counts from this one's end
            if (failed) failed(e.what());
        }
        return;
    }
    if (kernel_.usable() && kernel_.alive()) return;
    if (kernel_.usable()) {
        std::string why = kernel_.death_reason();
        log::kernel().warn("{}; restarting it", why);
        if (died) died(why);
        kernel_.stop();  // not usable until restarted
    }
    auto now = steady_clock::now();
    if (now - last_try_ < retry_every) return;
    last_try_ = now;
    before_ = kernel_.status();
    thread_ = std::async(std::launch::async, [&k = kernel_] { k.restart(); });
}

json kernel_keeper::status() const {
    if (!thread_.valid()) return kernel_.status();
    json s = before_;  // the thread owns the kernel
    if (s.contains("gateway") && s["gateway"].is_object()) s["gateway"]["state"] = "restarting";
    return s;
}

}  // namespace ltest
