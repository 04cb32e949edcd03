#pragma once
// A gateway kernel's websocket channels (/api/kernels/ID/channels: Jupyter
// messages as JSON with a "channel" field) offered as a kernel's ZeroMQ
// channels on 127.0.0.1, with a key of its own: kernel_client (and all that
// is built on it: ready checks, execute, the server's relay) talks to a
// gateway kernel exactly as to a local one. One thread of its own carries
// messages both ways; the heartbeat is answered while the websocket is open
// and the gateway has not said the kernel restarted or died (then the
// kernel's state is gone, and its owner replaces it).
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "kernel_bridge/connection_file.hpp"
#include "kernel_bridge/gateway/gateway_rest.hpp"

namespace kernel_bridge::gateway {

class channel_bridge {
public:
    // Opens the websocket (throws gateway_error: refused, unreachable, no
    // answer within `timeout`), binds the local channels, starts the thread.
    channel_bridge(zmq::context_t& ctx, const endpoint& ep, const std::string& token, const std::string& kernel_id,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));
    ~channel_bridge();
    channel_bridge(const channel_bridge&) = delete;
    channel_bridge& operator=(const channel_bridge&) = delete;

    // Where kernel_client connects (ports on 127.0.0.1, this bridge's key).
    const connection_info& info() const { return info_; }
    // False once the websocket closed, or the gateway said the kernel is
    // restarting or dead.
    bool open() const { return open_.load(); }
    // Why it is not open ("" while it is).
    std::string why_closed() const;

private:
    struct state;
    void loop();
    void close_with(const std::string& why);

    connection_info info_;
    std::unique_ptr<state> s_;
    std::atomic<bool> open_{true};
    std::atomic<bool> stop_{false};
    mutable std::mutex why_mutex_;
    std::string why_;
    std::thread thread_;
};

}  // namespace kernel_bridge::gateway
