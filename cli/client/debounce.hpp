#pragma once
// A burst of saves is one run (watch mode): the run starts once
// `quiet` has passed since the last change; each change moves that point.
#include <chrono>
#include <optional>

namespace ltest {

class debouncer {
public:
    using clock = std::chrono::steady_clock;
    explicit debouncer(std::chrono::milliseconds quiet) : quiet_(quiet) {}
    void change(clock::time_point now) { due_ = now + quiet_; }
    // When the pending run is due (nullopt: nothing pending).
    std::optional<clock::time_point> due() const { return due_; }
    // True (once) when a run is due at `now`; the burst is then consumed.
    bool fire(clock::time_point now) {
        if (!due_ || now < *due_) return false;
        due_.reset();
        return true;
    }

private:
    std::chrono::milliseconds quiet_;
    std::optional<clock::time_point> due_;
};

}  // namespace ltest
