#include "kernel_bridge/zmq/heartbeat.hpp"

namespace kernel_bridge {

heartbeat::heartbeat(zmq::context_t& ctx, std::string endpoint, std::chrono::milliseconds interval,
                     std::chrono::milliseconds timeout)
    : ctx_(ctx), endpoint_(std::move(endpoint)), interval_(interval), timeout_(timeout) {
    reconnect();
    last_ok_ = clock::now();
}

void heartbeat::reconnect() {
    // A REQ socket whose ping went unanswered cannot send again: replace it.
    socket_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::req);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->connect(endpoint_);
    waiting_ = false;
}

void heartbeat::tick() {
    auto now = clock::now();
    if (waiting_) {
        zmq::message_t pong;
        if (socket_->recv(pong, zmq::recv_flags::dontwait)) {
            waiting_ = false;
            dead_ = false;
            last_ok_ = now;
        } else if (now - sent_ > timeout_) {
            dead_ = true;
            reconnect();
        }
        return;
    }
    if (now - sent_ >= interval_) {
        socket_->send(zmq::str_buffer("ping"), zmq::send_flags::dontwait);
        waiting_ = true;
        sent_ = now;
    }
}

}  // namespace kernel_bridge
