#pragma once
// Only holders of the key get a message read. A ROUTER with ZeroMQ's NULL
// mechanism reads whatever any peer sends, and libzmq queues a message's
// frames until its last one: a peer that never ends a multipart message (all
// frames with MORE set) grows the server without limit, whatever
// ZMQ_MAXMSGSIZE (per frame) and ZMQ_RCVHWM (whole messages) say; and every
// unsigned whole message cost an HMAC over up to 16 MiB in the event loop.
//
// So the ROUTER is a PLAIN server (ZMTP's PLAIN mechanism, rfc.zeromq.org
// spec 24) and this gate is its ZAP handler (spec 27): a peer's HELLO must
// carry protocol::connect_password (an HMAC of a label with the key, so the
// key never travels). Anyone else is refused during the handshake, before
// libzmq reads a message frame from them: what a stranger can make the
// server hold is its handshake command (at most max_message_bytes, for at
// most router_handshake_ms, on at most connection_guard::max_unauthenticated
// connections), and no signature is ever computed for them.
//
// The handler runs in its own thread, so a flood of handshakes never waits
// for, nor delays, the event loop; connection_guard logs the refusals (the
// ROUTER's monitor says HANDSHAKE_FAILED_*, log.hpp limits the rate).
#include <atomic>
#include <string>
#include <thread>

#include <zmq.hpp>

namespace ltest {

class connect_gate {
public:
    // Binds the context's ZAP endpoint and starts answering; call before the ROUTER binds.
    connect_gate(zmq::context_t& ctx, std::string password);
    ~connect_gate();
    connect_gate(const connect_gate&) = delete;
    connect_gate& operator=(const connect_gate&) = delete;

    // Makes `router` ask this gate about every peer (PLAIN server, ZAP domain); call before bind.
    static void guard(zmq::socket_t& router);

private:
    void serve();
    bool answer(zmq::socket_t& zap);

    zmq::socket_t zap_;
    std::string password_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace ltest
