#include "connect_gate.hpp"

#include <sodium.h>

#include <vector>

#include "protocol.hpp"

namespace ltest {

namespace {
constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";  // fixed by ZAP (spec 27)
constexpr const char* zap_domain = "ltest";

bool same_secret(const std::string& a, const std::string& b) {
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;  // constant time
}
}  // namespace

connect_gate::connect_gate(zmq::context_t& ctx, std::string password)
    : zap_(ctx, zmq::socket_type::rep), password_(std::move(password)) {
    zap_.set(zmq::sockopt::linger, 0);
    zap_.bind(zap_endpoint);
    thread_ = std::thread([this] { serve(); });
}

connect_gate::~connect_gate() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void connect_gate::guard(zmq::socket_t& router) {
    router.set(zmq::sockopt::plain_server, true);
    router.set(zmq::sockopt::zap_domain, zap_domain);
}

void connect_gate::serve() {
    // The socket belongs to this thread from now on (made in the constructor, used only here).
    while (!stop_) {
        zmq::pollitem_t item{zap_.handle(), 0, ZMQ_POLLIN, 0};
        try {
            zmq::poll(&item, 1, std::chrono::milliseconds(100));  // stop_ is seen within this
            while (!stop_ && answer(zap_)) {
            }
        } catch (const zmq::error_t& e) {
            if (e.num() == ETERM) return;
        }
    }
}

// One request: [version, request id, domain, address, routing id, mechanism, credentials...].
bool connect_gate::answer(zmq::socket_t& zap) {
    std::vector<zmq::message_t> request;
    while (true) {
        zmq::message_t part;
        if (!zap.recv(part, request.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none)) return false;
        bool more = part.more();
        if (request.size() < 16) request.push_back(std::move(part));  // libzmq sends 7 or 8
        if (!more) break;
    }
    auto text = [&](std::size_t i) { return i < request.size() ? request[i].to_string() : std::string(); };
    bool ok = text(0) == "1.0" && text(5) == "PLAIN" && text(6) == protocol::connect_username &&
              same_secret(text(7), password_);
    // No user id: with one, libzmq 4.3.4 held the peer's first message back under ZMQ_RCVHWM = 1.
    std::vector<std::string> reply = {"1.0", text(1), ok ? "200" : "400", ok ? "OK" : "not this server's key", "", ""};
    for (std::size_t i = 0; i < reply.size(); ++i)
        zap.send(zmq::buffer(reply[i]), i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    return true;
}

}  // namespace ltest
