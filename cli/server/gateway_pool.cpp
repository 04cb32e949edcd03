#include "gateway_pool.hpp"

#include "log.hpp"

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

static constexpr auto retry_every = seconds(5);

gateway_pool::gateway_pool(zmq::context_t& ctx, const kernel_settings& settings, int count) {
    for (int i = 0; i < count; ++i) {
        kernel_settings s = settings;
        s.handover_path.clear();  // a gateway's kernel is relayed, never handed runs
        kernels_.push_back(member{std::make_unique<warm_kernel>(ctx, s)});
    }
}

void gateway_pool::start() {
    for (auto& m : kernels_) m.restarting = std::async(std::launch::async, [&k = *m.kernel] { k.start(); });
}

void gateway_pool::wait_started() {
    std::exception_ptr first;
    for (auto& m : kernels_) {
        if (!m.restarting.valid()) continue;
        try {
            m.restarting.get();
        } catch (...) {
            if (!first) first = std::current_exception();
        }
    }
    if (first) std::rethrow_exception(first);
}

void gateway_pool::keep_warm() {
    auto now = steady_clock::now();
    for (std::size_t i = 0; i < kernels_.size(); ++i) {
        member& m = kernels_[i];
        warm_kernel& k = *m.kernel;
        if (m.restarting.valid()) {
            if (m.restarting.wait_for(seconds(0)) != std::future_status::ready) continue;
            try {
                m.restarting.get();
                log::kernel().info("gateway kernel {} restarted", i + 2);
            } catch (const std::exception& e) {
                log::kernel().error("restart failed: {}; retried in {} s", e.what(), duration_cast<seconds>(retry_every).count());
            }
            m.last_try = steady_clock::now();  // the next attempt counts from this one's end
            continue;
        }
        if (k.usable() && k.alive()) continue;
        if (k.usable()) {
            std::string why = k.death_reason();
            log::kernel().warn("{}; restarting it", why);
            if (on_death_) on_death_(i, why);
            k.stop();  // not usable until restarted
        }
        if (now - m.last_try < retry_every) continue;
        m.last_try = now;
        m.before_restart = k.status();
        m.restarting = std::async(std::launch::async, [&k] { k.restart(); });
    }
}

json gateway_kernel_entry(const json& s, int runs) {
    json e = s.value("gateway", json::object());
    e["preloaded"] = s.value("preloaded", json::array());
    e["restarts"] = s.value("restarts", 0);
    e["runs"] = runs;
    if (s.contains("kernel_error")) e["error"] = s["kernel_error"];
    return e;
}

json gateway_pool::status(const std::map<int, int>& runs) const {
    json out = json::array();
    for (std::size_t i = 0; i < kernels_.size(); ++i) {
        auto n = runs.find(static_cast<int>(i) + 1);
        const member& m = kernels_[i];
        if (!m.restarting.valid()) {
            out.push_back(gateway_kernel_entry(m.kernel->status(), n == runs.end() ? 0 : n->second));
            continue;
        }
        // Its thread owns it: what it was, marked as being restarted.
        json entry = gateway_kernel_entry(m.before_restart, n == runs.end() ? 0 : n->second);
        entry["state"] = "restarting";
        out.push_back(std::move(entry));
    }
    return out;
}

}  // namespace ltest
