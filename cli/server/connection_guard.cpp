#include "connection_guard.hpp"

#include <cstring>

#include "log.hpp"

namespace ltest {
using namespace std::chrono;

namespace {

bool peer_of(int fd, sockaddr_storage& out) {
    socklen_t len = sizeof out;
    std::memset(&out, 0, sizeof out);
    return ::getpeername(fd, reinterpret_cast<sockaddr*>(&out), &len) == 0;
}

std::string monitor_endpoint(const void* self) {
    return "inproc://ltest-connection-guard-" + std::to_string(reinterpret_cast<std::uintptr_t>(self));
}

}  // namespace

connection_guard::connection_guard(zmq::context_t& ctx, zmq::socket_t& router) : monitor_(ctx, zmq::socket_type::pair) {
    std::string endpoint = monitor_endpoint(this);
    if (zmq_socket_monitor(router.handle(), endpoint.c_str(), ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
        throw zmq::error_t();
    monitor_.set(zmq::sockopt::linger, 0);
    monitor_.connect(endpoint);
}

int connection_guard::source_fd(const zmq::multipart_t& frames) {
    for (const auto& frame : frames) {
        int fd = zmq_msg_get(const_cast<zmq_msg_t*>(frame.handle()), ZMQ_SRCFD);
        if (fd >= 0) return fd;
    }
    return -1;
}

void connection_guard::authenticated(int fd) {
    if (fd < 0) return;
    pending_.erase(fd);
    sockaddr_storage peer{};
    if (peer_of(fd, peer)) signed_[fd] = peer;
}

void connection_guard::on_event(std::uint16_t event, int fd) {
    // Refused by libzmq before a message was read (connect_gate.hpp): said once per peer, rate-limited.
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        log::dropped("refused a connection without the key at the ZeroMQ handshake");
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        log::dropped("refused a connection without the key at the ZeroMQ handshake (not PLAIN, or not ZMTP 3)");
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
        pending_.erase(fd);
        signed_.erase(fd);
    } else if (event == ZMQ_EVENT_ACCEPTED) {
        pending pend{steady_clock::now(), {}};
        if (!peer_of(fd, pend.peer)) return;  // no peer: it is gone already
        auto s = signed_.find(fd);
        if (s != signed_.end() && std::memcmp(&s->second, &pend.peer, sizeof pend.peer) == 0) return;  // signed first
        signed_.erase(fd);
        pending_[fd] = pend;
    }
}

void connection_guard::close(int fd, const pending& p, const char* why) {
    sockaddr_storage now{};
    // The fd may have been closed and reused since the last event: only the same peer is closed.
    if (!peer_of(fd, now) || std::memcmp(&now, &p.peer, sizeof now) != 0) return;
    log::dropped(std::string("closed a connection that ") + why);
    ::shutdown(fd, SHUT_RDWR);
}

void connection_guard::tick() {
    while (true) {  // a monitor event: [u16 event, u32 value (the fd)], then the endpoint
        zmq::message_t head, address;
        if (!monitor_.recv(head, zmq::recv_flags::dontwait)) break;
        if (head.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
        if (head.size() < 6) continue;
        std::uint16_t event;
        std::uint32_t value;
        std::memcpy(&event, head.data(), 2);
        std::memcpy(&value, static_cast<const char*>(head.data()) + 2, 4);
        on_event(event, static_cast<int>(value));
    }
    auto now = steady_clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (now - it->second.since < auth_deadline) {
            ++it;
            continue;
        }
        close(it->first, it->second, "sent no signed message in time");
        it = pending_.erase(it);
    }
    while (pending_.size() > max_unauthenticated) {  // the oldest first
        auto oldest = pending_.begin();
        for (auto it = pending_.begin(); it != pending_.end(); ++it)
            if (it->second.since < oldest->second.since) oldest = it;
        close(oldest->first, oldest->second, "waited while too many others had not signed");
        pending_.erase(oldest);
    }
}

}  // namespace ltest
