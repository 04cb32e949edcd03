#pragma once
// Jupyter heartbeat: a REQ socket pinging the kernel's echo socket. Non-blocking:
// the owner calls tick() from its event loop.
#include <chrono>
#include <memory>
#include <string>

#include <zmq.hpp>

namespace kernel_bridge {

class heartbeat {
public:
    using clock = std::chrono::steady_clock;
    heartbeat(zmq::context_t& ctx, std::string endpoint,
              std::chrono::milliseconds interval = std::chrono::milliseconds(500),
              std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));
    // Sends a ping when due, collects a pong when present. Cheap.
    void tick();
    // True once a ping went unanswered for longer than the timeout.
    bool dead() const { return dead_; }

private:
    void reconnect();

    zmq::context_t& ctx_;
    std::string endpoint_;
    std::chrono::milliseconds interval_, timeout_;
    std::unique_ptr<zmq::socket_t> socket_;
    bool waiting_ = false;
    bool dead_ = false;
    clock::time_point sent_{}, last_ok_{};
};

}  // namespace kernel_bridge
