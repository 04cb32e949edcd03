#pragma once
// Connections that never authenticate must not pile up. Anyone who can reach
// the port can open TCP connections and complete ZeroMQ's handshake (the NULL
// mechanism asks nothing), then hold them: each costs the server a file
// descriptor and a libzmq session for as long as the peer likes.
//
// So a connection must send a correctly signed message within auth_deadline
// of being accepted, and at most max_unauthenticated wait at a time (beyond
// that the oldest go first); the others are closed. A real client signs its
// first message within milliseconds. libzmq offers no such limit: the guard
// learns of accepts and disconnects from the ROUTER's socket monitor, of
// authentication from each verified message's source fd (ZMQ_SRCFD), and
// closes a connection with shutdown(2) on its fd (libzmq then sees the peer
// go and cleans up as for any disconnect).
#include <sys/socket.h>

#include <chrono>
#include <map>
#include <string>

#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace ltest {

class connection_guard {
public:
    static constexpr std::chrono::seconds auth_deadline{10};
    static constexpr std::size_t max_unauthenticated = 256;

    // Starts monitoring `router` (an inproc PAIR socket); call before it binds.
    connection_guard(zmq::context_t& ctx, zmq::socket_t& router);
    connection_guard(const connection_guard&) = delete;
    connection_guard& operator=(const connection_guard&) = delete;

    // The fd a message came from (ZMQ_SRCFD), read before the frames are consumed; -1 if unknown.
    // Only frames read from the wire carry it: the ROUTER's own routing-id frame says -1.
    static int source_fd(const zmq::multipart_t& frames);
    // A correctly signed message came in on `fd`: that connection may stay.
    void authenticated(int fd);
    // Reads the monitor's events, then closes the connections that overstayed. Call often.
    void tick();
    std::size_t waiting() const { return pending_.size(); }

private:
    struct pending {
        std::chrono::steady_clock::time_point since;
        sockaddr_storage peer{};  // who it was at accept: the fd is closed only if it still is
    };
    void on_event(std::uint16_t event, int fd);
    void close(int fd, const pending& p, const char* why);

    zmq::socket_t monitor_;
    std::map<int, pending> pending_;
    // Connections that signed, by fd, with their peer: the monitor's accept
    // event may come after the first message, and must not put them on the list.
    std::map<int, sockaddr_storage> signed_;
};

}  // namespace ltest
