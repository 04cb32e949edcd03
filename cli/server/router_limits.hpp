#pragma once
// What a peer without the key can make the server spend, bounded where the
// bytes arrive: in libzmq, before a message is read and its signature checked.
//
//  * ZMQ_RCVHWM: few messages queued per connection. A peer that sends faster
//    than the server reads is slowed by TCP (libzmq stops reading it), so an
//    unsigned 15 MiB flood costs two or three messages' memory, not gigabytes.
//    Freed, that memory goes back to the system (M_MMAP_THRESHOLD fixed).
//  * ZMQ_HANDSHAKE_IVL: a connection that does not complete the ZMTP
//    handshake (an idle TCP connect) is closed within seconds, not 30.
//  * the fd limit raised to the hard limit, so that held connections do not
//    exhaust the server's descriptors under the usual soft limit of 1024.
// Measured figures and the tests: tests/integration/test_hostile.py, README Limits.
#include <string>

#include <zmq.hpp>

namespace ltest {

inline constexpr int router_rcvhwm = 1;                // messages queued per peer (then TCP waits)
inline constexpr int router_handshake_ms = 2000;       // ZMTP greeting + READY within this
inline constexpr int router_backlog = 1024;            // pending TCP connects

// Sets the limits above (and IPv6 for an IPv6 address) on the server's ROUTER; call before bind.
void apply_router_limits(zmq::socket_t& router, const std::string& ip);

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit.
long raise_fd_limit();

}  // namespace ltest
