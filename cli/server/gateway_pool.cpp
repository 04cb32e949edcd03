#include "gateway_pool.hpp"

#include "log.hpp"

namespace ltest {
using nlohmann::json;
using namespace std::chrono;

gateway_pool::gateway_pool(zmq::context_t& ctx, const kernel_settings& settings, int count) {
    for (int i = 0; i < count; ++i) {
        kernel_settings s = settings;
        s.handover_path.clear();  // a gateway's kernel is relayed, never handed runs
        auto k = std::make_unique<warm_kernel>(ctx, s);
        auto keeper = std::make_unique<kernel_keeper>(*k);
        kernels_.push_back(member{std::move(k), std::move(keeper)});
    }
}

void gateway_pool::start() {
    for (auto& m : kernels_) m.keeper->start();
}

void gateway_pool::wait_started() {
    std::exception_ptr first;
    for (auto& m : kernels_) {
        try {
            m.keeper->wait();
        } catch (...) {
            if (!first) first = std::current_exception();
        }
    }
    if (first) std::rethrow_exception(first);
}

void gateway_pool::keep_warm() {
    for (std::size_t i = 0; i < kernels_.size(); ++i)
        kernels_[i].keeper->tick([&](const std::string& why) { if (on_death_) on_death_(i, why); }, {}, on_failure_);
}

bool gateway_pool::busy() const {
    for (const auto& m : kernels_)
        if (m.keeper->busy()) return true;
    return false;
}

void gateway_pool::retry_now() {
    for (auto& m : kernels_) m.keeper->retry_now();
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
        out.push_back(gateway_kernel_entry(kernels_[i].keeper->status(), n == runs.end() ? 0 : n->second));
    }
    return out;
}

}  // namespace ltest
