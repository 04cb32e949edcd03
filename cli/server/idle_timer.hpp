#pragma once
// --idle: a server with no run in flight or queued and no message
// from any client for this long stops by itself (auto-started servers: 30
// min by default), cleaning up as on SIGTERM.
#include <chrono>
#include <optional>

namespace ltest {

class idle_timer {
public:
    // seconds unset or 0: never expires.
    explicit idle_timer(std::optional<double> seconds);
    // A client spoke, or a run is in flight: idle time starts again.
    void touch();
    // True once the server has been idle (no run, busy false) for the whole time.
    bool expired(bool busy);
    std::optional<double> seconds() const { return limit_; }

private:
    std::optional<double> limit_;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace ltest
