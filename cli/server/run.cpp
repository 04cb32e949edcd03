#include "run.hpp"

#include "log.hpp"

namespace ltest {

const char* phase_name(run_phase p) {
    switch (p) {
        case run_phase::queued: return "queued";
        case run_phase::handing_over: return "handing_over";
        case run_phase::running: return "running";
        case run_phase::syncing: return "syncing";
        case run_phase::relaying: return "relaying";
        case run_phase::answered: return "answered";
    }
    return "?";
}

void run::set_phase(run_phase next) {
    log::server().debug("run {}: {} -> {}", id.substr(0, 8), phase_name(phase_), phase_name(next));
    phase_ = next;
}

void run::queue(std::vector<std::string> frames) {
    for (const auto& f : frames) outbox_bytes += f.size();
    outbox.push_back(std::move(frames));
}

}  // namespace ltest
